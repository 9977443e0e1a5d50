"""The closing line of `make test` (tests/totals.py): both pytest runs counted, and a
failure in either one fails the whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.totals import main

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="{errors}" failures="{failures}" skipped="{skipped}" tests="{tests}"/></testsuites>"""


def _report(path: Path, tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> Path:
    path.write_text(REPORT.format(tests=tests, failures=failures, errors=errors, skipped=skipped))
    return path


def test_both_runs_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit, broker = _report(tmp_path / "u.xml", 1000), _report(tmp_path / "b.xml", 570)
    assert main(["--codes", "0", "0", str(unit), str(broker)]) == 0
    assert capsys.readouterr().out.strip() == "total: 1570 passed, 0 failed"


def test_a_failure_in_either_run_fails_the_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = _report(tmp_path / "u.xml", 1000, failures=1)
    broker = _report(tmp_path / "b.xml", 570, errors=1, skipped=2)
    assert main(["--codes", "1", "1", str(unit), str(broker)]) == 1
    assert capsys.readouterr().out.strip() == "total: 1566 passed, 2 failed, 2 skipped"
    assert main(["--codes", "0", "1", str(unit), str(broker)]) == 1


def test_a_half_that_selected_nothing_is_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make test PYTEST_ARGS="-k openapi"` selects unit tests only: the broker half
    exits 5 (no tests), which is not a failure while the other half ran some."""
    unit, broker = _report(tmp_path / "u.xml", 12), _report(tmp_path / "b.xml", 0)
    assert main(["--codes", "0", "5", str(unit), str(broker)]) == 0
    missing = tmp_path / "never-written.xml"
    assert main(["--codes", "5", "5", str(missing), str(missing)]) == 1
    assert "total: 0 passed, 0 failed" in capsys.readouterr().out
