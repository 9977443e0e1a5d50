"""The closing line of `make test` (tests/run.sh): the totals of its pytest runs, read
from their JUnit XML reports, and its exit code.

    python -m tests.totals --run NAME RC REPORT [--run NAME RC REPORT ...]

Exit 0 only when every run passed; a run that selected no test (pytest's 5, say with a
-k that matches only tests of another run) counts as passed while another ran tests.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NO_TESTS = 5


def counts(report: Path) -> dict[str, int]:
    """tests, failures, errors and skipped of a JUnit XML report (zeros when missing)."""
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    if not report.exists():
        return totals
    root = ET.parse(report).getroot()  # noqa: S314 - pytest's own report
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        for name in totals:
            totals[name] += int(suite.get(name, 0))
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", nargs=3, action="append", required=True, metavar=("NAME", "RC", "REPORT"),
        help="a pytest run: its name, exit code and JUnit XML report",
    )
    args = parser.parse_args(argv)
    runs = [(name, int(rc), Path(report)) for name, rc, report in args.run]
    total = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for _, _, report in runs:
        for name, value in counts(report).items():
            total[name] += value
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    line = f"{passed} passed, {failed} failed"
    if total["skipped"]:
        line += f", {total['skipped']} skipped"
    print(f"total: {line}")
    bad = [(name, rc) for name, rc, _ in runs if rc and not (rc == NO_TESTS and total["tests"])]
    if bad:
        print("make test: pytest exit codes " + ", ".join(f"{rc} ({name})" for name, rc in bad),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
