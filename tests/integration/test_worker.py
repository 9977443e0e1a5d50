"""`hub worker` runs on the real broker: preflight, /healthz, consumer group, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from tests.conftest import ROOT, free_port

HUB = str(ROOT / ".venv" / "bin" / "hub")


def _env(bootstrap: str, app_id: str, port: int, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
        "HUB_APP_ID": app_id,
        "HUB_HTTP_PORT": str(port),
        "HUB_DATA_DIR": str(data),
    }


def _healthz(port: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:  # noqa: S310
                assert answer.status == 200
                return dict(json.load(answer))
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _group_state(bootstrap: str, group: str) -> str | None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        groups = {g["group_id"]: g for g in admin.list_groups()}
    finally:
        admin.close()
    return groups[group]["group_state"] if group in groups else None


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_worker_serves_healthz_joins_its_group_and_stops_cleanly(
    kafka_bootstrap: str,
    applied_topics: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
    stop_signal: signal.Signals,
) -> None:
    app_id = unique_name("hub")[:60]
    port = free_port()
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [HUB, "worker"],
            env=_env(kafka_bootstrap, app_id, port, tmp_path / "data"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        health = _healthz(port, timeout=60)
        assert health["status"] == "ok"
        registry = f"http://127.0.0.1:{port}/registry/subjects"
        with urllib.request.urlopen(registry, timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
            assert isinstance(json.load(answer), list)
        deadline = time.monotonic() + 30
        while _group_state(kafka_bootstrap, app_id) != "Stable":
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        worker.send_signal(stop_signal)
        assert worker.wait(timeout=45) == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert _group_state(kafka_bootstrap, app_id) in ("Empty", None)


def test_worker_refuses_to_start_without_topics(
    kafka_bootstrap: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    topics = tmp_path / "topics"
    topics.mkdir()
    (topics / "x.yaml").write_text(
        f"topics:\n  - name: {unique_name('never-applied')}\n    doc: test\n    partitions: 1\n",
        encoding="utf-8",
    )
    env = _env(kafka_bootstrap, unique_name("hub")[:60], free_port(), tmp_path / "data")
    env["HUB_TOPICS_DIR"] = str(topics)
    result = subprocess.run(
        [HUB, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "hub topics apply" in result.stderr
    assert "Traceback" not in result.stderr
