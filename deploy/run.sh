#!/usr/bin/env bash
# `make run`: local Kafka, topics, and one hub worker; unless HUB_DEMO=0, the live demo
# beside it: party simulators (deploy/demo/party.py) behind demo connectors
# (deploy/demo/connectors.yaml) and a traffic driver (deploy/demo/driver.py) playing
# the streets, departments, police, procuratorate, big-data bureau and justice bureau.
# Ctrl-C (or SIGTERM, or the worker ending) stops the driver, the worker, the simulators
# and the broker this script started.
#
# Environment: HUB_KAFKA_PORT (9092), HUB_HTTP_PORT (8080), HUB_DEMO (1; 0 turns the demo
# off for real use), HUB_DEMO_RATE (6 requests/s), HUB_DEMO_PORT (8701: the simulators
# take it and the next two), HUB_DEMO_VERBOSE (1: the driver prints every action), and
# every HUB_* setting of the hub.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT="${HUB_KAFKA_PORT:-9092}"
HTTP_PORT="${HUB_HTTP_PORT:-8080}"
HUB=".venv/bin/hub"
PY="${PYTHON:-.venv/bin/python}"
export HUB_KAFKA_BOOTSTRAP="${HUB_KAFKA_BOOTSTRAP:-127.0.0.1:$PORT}"
export HUB_HTTP_PORT="$HTTP_PORT"

case "${HUB_DEMO:-1}" in
  0 | false | no | off) DEMO=no ;;
  *) DEMO=yes ;;
esac
DATA_DIR="${HUB_DATA_DIR:-.hub}"
DEMO_DIR="$DATA_DIR/demo"
SIM_PORT="${HUB_DEMO_PORT:-8701}"
DEMO_RATE="${HUB_DEMO_RATE:-6}"
driver_flags=()
case "${HUB_DEMO_VERBOSE:-0}" in 0 | false | no | off | "") ;; *) driver_flags+=(-v) ;; esac
HUB_URL="http://127.0.0.1:$HTTP_PORT"

started_kafka=no
worker_pid=""
tokens_pid=""
driver_pid=""
sim_pids=()

# Background processes run in their own session (setsid, like the broker): a Ctrl-C or
# a signal to the whole process group reaches this script only, and the cleanup below
# stops each of them once, in order (driver, worker, simulators, broker).
# Stop one background process: SIGTERM, up to `grace` seconds, then SIGKILL; its exit
# status is left in `stopped_status` (137 when it had to be killed).
stopped_status=0
stop_pid() {
  local pid="$1" grace="${2:-10}" i
  stopped_status=0
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for (( i = 0; i < grace * 5; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || stopped_status=$?
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$driver_pid${sim_pids[*]}" ]]; then
    echo "run: stopping the demo driver, the worker and the party simulators ..."
  elif [[ -n "$worker_pid" ]]; then
    echo "run: stopping the worker ..."
  fi
  stop_pid "$tokens_pid" 5
  stop_pid "$driver_pid" 10
  stop_pid "$worker_pid" 40
  local worker_status="$stopped_status"
  local pid
  for pid in "${sim_pids[@]}"; do stop_pid "$pid" 5; done
  if [[ "$started_kafka" == yes ]]; then
    echo "run: stopping the local Kafka broker ..."
    deploy/kafka/kafka.sh stop --port "$PORT" || true
  fi
  if [[ "$worker_status" -ne 0 ]]; then
    echo "run: the worker did not stop cleanly (exit $worker_status); see its log above / 工作节点未能正常停止，请查看日志" >&2
    exit 1
  fi
  if [[ "$stopping" == yes ]]; then
    echo "run: stopped / 已停止"
  fi
  exit "$rc"
}
# Ctrl-C or SIGTERM is how `make run` is meant to end: a clean stop exits 0 (so make
# says nothing more), a worker that could not finish makes it exit 1.
stopping=no
trap cleanup EXIT
trap 'stopping=yes; exit 0' INT TERM

if [[ "$DEMO" == yes ]]; then
  mkdir -p "$DEMO_DIR"
  chmod 700 "$DEMO_DIR"
  # Tokens need no broker: issued (or kept from the last run) while Kafka starts.
  "$PY" deploy/demo/tokens.py --hub "$HUB" --out "$DEMO_DIR/tokens.json" \
    --ops-token "$DEMO_DIR/ops.token" >"$DEMO_DIR/tokens.log" 2>&1 &
  tokens_pid=$!
fi

if [[ "$HUB_KAFKA_BOOTSTRAP" == "127.0.0.1:$PORT" ]]; then
  deploy/kafka/kafka.sh start --port "$PORT"
  started_kafka=yes
else
  echo "run: using the cluster at HUB_KAFKA_BOOTSTRAP=$HUB_KAFKA_BOOTSTRAP"
fi

"$HUB" topics apply --quiet
"$HUB" schemas register
"$HUB" reference load

cat <<MSG

run: the hub worker is starting on the local broker ($HUB_KAFKA_BOOTSTRAP).
     health:      curl $HUB_URL/healthz
     broker log:  deploy/kafka/.data/$PORT/node-1/server.log
     registry:    curl $HUB_URL/registry/subjects
     topics:      $HUB topics diff
     validate:    $HUB validate case FILE.json
     Ctrl-C stops the worker and the broker.
MSG
[[ "$DEMO" == yes ]] || echo "     demo:        off (HUB_DEMO=${HUB_DEMO:-}); plain make run adds simulated parties and traffic"

if [[ "$DEMO" == yes ]]; then
  status=0
  wait "$tokens_pid" || status=$?
  tokens_pid=""
  if [[ "$status" -ne 0 ]]; then
    echo "run: could not issue the demo tokens ($DEMO_DIR/tokens.log); the demo stays off" >&2
    cat "$DEMO_DIR/tokens.log" >&2 || true
    DEMO=no
  else
    sed 's/^/run: /' "$DEMO_DIR/tokens.log"
  fi
fi

if [[ "$DEMO" == yes ]]; then
  # The simulators check each delivery's HMAC with the secret the connector signs with.
  for party in bigdata police street-jiyuqiao; do
    secret="$DEMO_DIR/$party.hmac"
    if [[ ! -s "$secret" ]]; then
      (umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$secret")
    fi
  done
  entities_api="http://127.0.0.1:$SIM_PORT"
  if [[ -z "${HUB_CONNECTORS_FILE:-}" ]]; then
    # deploy/demo/connectors.yaml with this run's simulator ports and secret folder
    sed -e "s#127\.0\.0\.1:8701/#127.0.0.1:$SIM_PORT/#" \
        -e "s#127\.0\.0\.1:8702/#127.0.0.1:$((SIM_PORT + 1))/#" \
        -e "s#127\.0\.0\.1:8703/#127.0.0.1:$((SIM_PORT + 2))/#" \
        -e "s#\.hub/demo/#$DEMO_DIR/#" \
        deploy/demo/connectors.yaml >"$DEMO_DIR/connectors.yaml"
    export HUB_CONNECTORS_FILE="$DEMO_DIR/connectors.yaml"
    connectors_note="$HUB_CONNECTORS_FILE (from deploy/demo/connectors.yaml)"
  else
    connectors_note="$HUB_CONNECTORS_FILE (yours: the demo simulators get no deliveries)"
  fi
  setsid "$PY" -m deploy.demo.party --port "$SIM_PORT" --kind both \
    --records deploy/demo/bigdata-entities.json --page-size 20 \
    --secret-file "$DEMO_DIR/bigdata.hmac" >"$DEMO_DIR/sim-bigdata.log" 2>&1 &
  sim_pids+=($!)
  setsid "$PY" -m deploy.demo.party --port $((SIM_PORT + 1)) --kind webhook \
    --secret-file "$DEMO_DIR/police.hmac" >"$DEMO_DIR/sim-police.log" 2>&1 &
  sim_pids+=($!)
  setsid "$PY" -m deploy.demo.party --port $((SIM_PORT + 2)) --kind webhook \
    --secret-file "$DEMO_DIR/street-jiyuqiao.hmac" >"$DEMO_DIR/sim-jiyuqiao.log" 2>&1 &
  sim_pids+=($!)
  # The driver waits for the worker's /healthz itself, then starts.
  setsid "$PY" -m deploy.demo.driver --url "$HUB_URL" --tokens "$DEMO_DIR/tokens.json" \
    --rate "$DEMO_RATE" --entities deploy/demo/bigdata-entities.json \
    --entities-api "$entities_api" "${driver_flags[@]}" &
  driver_pid=$!
  cat <<MSG

run: LIVE DEMO on (HUB_DEMO=0 make run runs the hub alone, for real use).
     driver:      deploy/demo/driver.py plays 14 streets, 8 departments, police,
                  procuratorate, big-data bureau and justice through the HTTP API, each
                  with its own token ($DEMO_DIR/tokens.json), at up to $DEMO_RATE requests/s
                  (HUB_DEMO_RATE): whistles and clues, orders signed, reported, answered,
                  closed and rated, criminal referrals decided by the police, market
                  entities shared, ~3 % bad records (422 answers and DLQ entries).
                  It acts only on the orders it created: orders you post are yours
                  (演示只处理自己创建的派单，您发出的派单由您处理).
                  A progress line every 10 s (HUB_DEMO_VERBOSE=1: every action).
     simulators:  big-data sharing platform  http://127.0.0.1:$SIM_PORT/stats  (polled for entities)
                  police case system          http://127.0.0.1:$((SIM_PORT + 1))/stats  (webhook)
                  积玉桥 street platform       http://127.0.0.1:$((SIM_PORT + 2))/stats  (webhook)
                  logs in $DEMO_DIR/sim-*.log
     connectors:  $connectors_note
                  $HUB connectors status
     ops page:    $HUB_URL/ops  (any user name; password: the ops token in $DEMO_DIR/ops.token)
     metrics:     curl -H "Authorization: Bearer \$(cat $DEMO_DIR/ops.token)" $HUB_URL/metrics

MSG
  sleep 1.5
  for pid in "${sim_pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run: a party simulator did not start (port taken? see $DEMO_DIR/sim-*.log;" \
        "HUB_DEMO_PORT picks other ports)" >&2
    fi
  done
fi

# In a terminal, the worker's whole log (JSON lines) goes to a file and the terminal shows
# only what a person must see (errors; warnings too without the demo, whose deliberate
# DLQ entries warn); piped or redirected, the JSON lines stay on stderr.
if [[ -t 2 && -z "${HUB_LOG_FILE:-}" ]]; then
  export HUB_LOG_FILE="$DATA_DIR/worker.log"
  if [[ "$DEMO" == yes ]]; then
    export HUB_LOG_CONSOLE_LEVEL="${HUB_LOG_CONSOLE_LEVEL:-ERROR}"
  fi
  echo "run: worker log / 工作节点日志 (JSON lines, every record): $HUB_LOG_FILE" \
    "(follow: tail -f $HUB_LOG_FILE | jq -r .message); shown here: ${HUB_LOG_CONSOLE_LEVEL:-WARNING} and worse"
fi

# The worker runs in the background (wait is interrupted by a signal) so that the trap's
# cleanup runs at once; it exits 0 after a clean stop, 1 when it could not finish.
status=0
setsid "$HUB" worker &
worker_pid=$!
wait "$worker_pid" || status=$?
worker_pid=""
exit "$status"
