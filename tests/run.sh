#!/usr/bin/env bash
# `make test`: every test, in pytest runs side by side. The real-broker tests spend most
# of their time waiting on Kafka and on worker processes (about a quarter of two cores),
# so they run as HUB_TEST_SHARDS runs at once (default 2; tests/shards.py deals the
# modules), each on its own broker (ports HUB_TEST_KAFKA_PORT, +2, ...), and the tests
# that need no broker run beside them. The first shard prints as it goes; the others'
# output follows, then the unit run's, then one closing line with the totals of all.
#   tests/run.sh [pytest args...]     (PYTEST_ARGS of make test)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
SHARDS=${HUB_TEST_SHARDS:-2}
BASE_PORT=${HUB_TEST_KAFKA_PORT:-29092}
if [[ -n "${HUB_KAFKA_BOOTSTRAP:-}" ]]; then
  SHARDS=1  # one broker given: the shards would share it, and its topics
fi
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "HUB_TEST_SHARDS must be a whole number ≥ 1 (got '$SHARDS') / HUB_TEST_SHARDS 应为不小于1的整数" >&2; exit 2; }
out=$(mktemp -d "${TMPDIR:-/tmp}/hub-test.XXXXXX")
pids=()

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for ((i = 1; i <= SHARDS; i++)); do  # a broker a killed run left behind
    deploy/kafka/kafka.sh stop --port $((BASE_PORT + 2 * (i - 1))) >/dev/null 2>&1
  done
  rm -rf "$out"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

shard_args() {  # the pytest arguments of broker shard $1
  if ((SHARDS > 1)); then echo "--shard $1/$SHARDS"; fi
}

"$PY" -m pytest -m "not kafka and not cluster" -p no:cacheprovider \
  --junitxml="$out/unit.xml" "$@" > "$out/unit.log" 2>&1 &
unit=$!
pids+=("$unit")
declare -A shard_pid
for ((i = 2; i <= SHARDS; i++)); do
  # shellcheck disable=SC2046 # shard_args is words on purpose
  HUB_TEST_KAFKA_PORT=$((BASE_PORT + 2 * (i - 1))) "$PY" -m pytest -m "kafka or cluster" \
    -p no:cacheprovider $(shard_args "$i") --junitxml="$out/broker-$i.xml" "$@" \
    > "$out/broker-$i.log" 2>&1 &
  shard_pid[$i]=$!
  pids+=("$!")
done

# shellcheck disable=SC2046
HUB_TEST_KAFKA_PORT=$BASE_PORT "$PY" -m pytest -m "kafka or cluster" $(shard_args 1) \
  --junitxml="$out/broker-1.xml" "$@"
rc=$?
runs=(--run "real broker, shard 1/$SHARDS" "$rc" "$out/broker-1.xml")
for ((i = 2; i <= SHARDS; i++)); do
  wait "${shard_pid[$i]}"
  rc=$?
  echo
  echo "==== real broker, shard $i of $SHARDS (run beside the one above) ===="
  cat "$out/broker-$i.log"
  runs+=(--run "real broker, shard $i/$SHARDS" "$rc" "$out/broker-$i.xml")
done
wait "$unit"
unit_rc=$?
echo
echo "==== the tests that need no broker (run beside the ones above) ===="
cat "$out/unit.log"
echo
"$PY" -m tests.totals --run "no broker" "$unit_rc" "$out/unit.xml" "${runs[@]}"
