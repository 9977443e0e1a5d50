"""`hub connectors list|status|pause|resume` against the real broker's state topic."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kafka

HUB = str(ROOT / ".venv" / "bin" / "hub")


def _hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUB, *args], env=env, capture_output=True, text=True, check=False)


def test_list_pause_status_resume(applied_topics: str, tmp_path: Path) -> None:
    name = f"urban-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "connectors.yaml"
    config.write_text(
        "connectors:\n"
        f"  - {{name: {name}, party: dept-urban, type: kafka}}\n"
        f"  - {{name: {name}-court, party: court, type: webhook, url: 'http://127.0.0.1:9/x'}}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": applied_topics,
        "HUB_CONNECTORS_FILE": str(config),
        "HUB_DATA_DIR": str(tmp_path),
    }
    listed = _hub(env, "connectors", "list")
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout and "out.court.v1 -> http://127.0.0.1:9/x" in listed.stdout

    paused = _hub(env, "connectors", "pause", name)
    assert paused.returncode == 0, paused.stderr
    status = _hub(env, "connectors", "status", "--json")
    assert status.returncode == 0, status.stderr
    states = json.loads(status.stdout)
    assert states[name]["paused"] is True and states[f"{name}-court"]["paused"] is False

    assert _hub(env, "connectors", "resume", name).returncode == 0
    table = _hub(env, "connectors", "status")
    assert table.returncode == 0
    (row,) = [line for line in table.stdout.splitlines() if line.startswith(f"{name} ")]
    assert "paused" not in row and "not started" in row

    unknown = _hub(env, "connectors", "pause", "no-such-connector")
    assert unknown.returncode == 2 and "no connector 'no-such-connector'" in unknown.stderr


def test_without_a_connectors_file_the_cli_says_how_to_configure(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path)}
    env.pop("HUB_CONNECTORS_FILE", None)
    answer = _hub(env, "connectors", "list")
    assert answer.returncode == 2 and "HUB_CONNECTORS_FILE" in answer.stderr
