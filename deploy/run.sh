#!/usr/bin/env bash
# `make run`: local Kafka, topics, and one hub worker in the foreground.
# Ctrl-C (or SIGTERM) stops the worker, then the broker this script started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT="${HUB_KAFKA_PORT:-9092}"
HTTP_PORT="${HUB_HTTP_PORT:-8080}"
HUB=".venv/bin/hub"
export HUB_KAFKA_BOOTSTRAP="${HUB_KAFKA_BOOTSTRAP:-127.0.0.1:$PORT}"
export HUB_HTTP_PORT="$HTTP_PORT"

started_kafka=no
cleanup() {
  trap - EXIT INT TERM
  if [[ "$started_kafka" == yes ]]; then
    echo "run: stopping the local Kafka broker ..."
    deploy/kafka/kafka.sh stop --port "$PORT" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "$HUB_KAFKA_BOOTSTRAP" == "127.0.0.1:$PORT" ]]; then
  deploy/kafka/kafka.sh start --port "$PORT"
  started_kafka=yes
else
  echo "run: using the cluster at HUB_KAFKA_BOOTSTRAP=$HUB_KAFKA_BOOTSTRAP"
fi

"$HUB" topics apply
"$HUB" schemas register
"$HUB" reference load

cat <<MSG

run: the hub worker is starting on the local broker ($HUB_KAFKA_BOOTSTRAP).
     health:      curl http://127.0.0.1:$HTTP_PORT/healthz
     broker log:  deploy/kafka/.data/$PORT/node-1/server.log
     registry:    curl http://127.0.0.1:$HTTP_PORT/registry/subjects
     topics:      $HUB topics diff
     validate:    $HUB validate case FILE.json
     Ctrl-C stops the worker and the broker.

MSG
# A worker exits with 70 when a partition stalls after a rebalance (hub/worker/_watchdog.py);
# like a supervisor (systemd Restart=, a Kubernetes pod) would, start it again.
while true; do
    status=0
    "$HUB" worker || status=$?
    [ "$status" -eq 70 ] || exit "$status"
    echo "run: the worker exited to recover a stalled partition; starting it again" >&2
done
