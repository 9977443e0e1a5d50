"""The closing line of `make test` (tests/totals.py): every pytest run counted, and a
failure in any one fails the whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.totals import main

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="{errors}" failures="{failures}" skipped="{skipped}" tests="{tests}"/></testsuites>"""


def _report(path: Path, tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> Path:
    path.write_text(REPORT.format(tests=tests, failures=failures, errors=errors, skipped=skipped))
    return path


def _runs(*runs: tuple[str, int, Path]) -> list[str]:
    return [arg for name, rc, path in runs for arg in ("--run", name, str(rc), str(path))]


def test_every_run_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = _report(tmp_path / "u.xml", 1000)
    one, two = _report(tmp_path / "b1.xml", 300), _report(tmp_path / "b2.xml", 270)
    assert main(_runs(("no broker", 0, unit), ("shard 1", 0, one), ("shard 2", 0, two))) == 0
    assert capsys.readouterr().out.strip() == "total: 1570 passed, 0 failed"


def test_a_failure_in_any_run_fails_the_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = _report(tmp_path / "u.xml", 1000, failures=1)
    broker = _report(tmp_path / "b.xml", 570, errors=1, skipped=2)
    assert main(_runs(("no broker", 1, unit), ("shard 1", 1, broker))) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "total: 1566 passed, 2 failed, 2 skipped"
    assert "1 (no broker), 1 (shard 1)" in captured.err
    assert main(_runs(("no broker", 0, unit), ("shard 1", 0, broker), ("shard 2", 1, broker))) == 1
    assert "1 (shard 2)" in capsys.readouterr().err


def test_a_run_that_selected_nothing_is_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make test PYTEST_ARGS="-k openapi"` selects unit tests only: the broker runs
    exit 5 (no tests), which is not a failure while another run ran some."""
    unit, broker = _report(tmp_path / "u.xml", 12), _report(tmp_path / "b.xml", 0)
    assert main(_runs(("no broker", 0, unit), ("shard 1", 5, broker), ("shard 2", 5, broker))) == 0
    missing = tmp_path / "never-written.xml"
    assert main(_runs(("no broker", 5, missing), ("shard 1", 5, missing))) == 1
    assert "total: 0 passed, 0 failed" in capsys.readouterr().out
