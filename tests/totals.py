"""The closing line of `make test` (tests/run.sh): the totals of its two pytest runs,
read from their JUnit XML reports, and its exit code.

    python -m tests.totals --codes UNIT_RC BROKER_RC unit.xml broker.xml

Exit 0 only when both runs passed; a run that selected no test (pytest's 5, say with a
-k that matches only the other half) counts as passed while the other ran tests.
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
    parser.add_argument("--codes", nargs=2, type=int, required=True, metavar="RC")
    parser.add_argument("reports", nargs=2, type=Path)
    args = parser.parse_args(argv)
    total = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for report in args.reports:
        for name, value in counts(report).items():
            total[name] += value
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    codes = [0 if code == NO_TESTS and total["tests"] else code for code in args.codes]
    line = f"{passed} passed, {failed} failed"
    if total["skipped"]:
        line += f", {total['skipped']} skipped"
    print(f"total: {line}")
    if any(codes):
        print(f"make test: pytest exit codes {args.codes[0]} (no broker), "
              f"{args.codes[1]} (real broker)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
