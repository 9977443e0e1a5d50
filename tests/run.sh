#!/usr/bin/env bash
# `make test`: every test, in two pytest runs side by side. The real-broker tests spend
# most of their time waiting on Kafka and on worker processes (about a quarter of two
# cores), so the tests that need no broker run beside them instead of after them; their
# output follows, then one closing line with the totals of both.
#   tests/run.sh [pytest args...]     (PYTEST_ARGS of make test)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
out=$(mktemp -d "${TMPDIR:-/tmp}/hub-test.XXXXXX")

"$PY" -m pytest -m "not kafka and not cluster" -p no:cacheprovider \
  --junitxml="$out/unit.xml" "$@" > "$out/unit.log" 2>&1 &
unit=$!
trap 'kill "$unit" 2>/dev/null; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

"$PY" -m pytest -m "kafka or cluster" --junitxml="$out/broker.xml" "$@"
broker_rc=$?
wait "$unit"
unit_rc=$?

echo
echo "==== the tests that need no broker (run beside the ones above) ===="
cat "$out/unit.log"
echo
"$PY" -m tests.totals --codes "$unit_rc" "$broker_rc" "$out/unit.xml" "$out/broker.xml"
