"""A worker runs the connectors of HUB_CONNECTORS_FILE: a file dropped for the urban
management department becomes a canonical clue without any other process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.integration.conftest import TopicWatch, clue_id, running_worker, urban_case

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="function")]

HUB = str(ROOT / ".venv" / "bin" / "hub")


async def _hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [HUB, *args], env=env, capture_output=True, text=True, check=False
    )


async def test_a_worker_imports_a_dropped_file_through_its_connector(
    applied_topics: str, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    name = f"urban-drop-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "connectors.yaml"
    config.write_text(
        "connectors:\n"
        f"  - name: {name}\n"
        "    party: dept-urban\n"
        "    type: file-drop\n"
        f"    directory: {drop}\n"
        "    native_kind: urban-case\n"
        "    pattern: '*.jsonl'\n"
        "    interval_seconds: 0.5\n"
        "    settle_seconds: 0\n",
        encoding="utf-8",
    )
    port = free_port()
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": applied_topics,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_HTTP_PORT": str(port),
        "HUB_APP_ID": f"worker-connectors-{port}",
        "HUB_CONNECTORS_FILE": str(config),
    }
    loaded = await _hub(env, "reference", "load")
    assert loaded.returncode == 0, loaded.stderr
    cases = [f"CG-W{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with running_worker(env, tmp_path / "worker.log"):
        async with TopicWatch(applied_topics, "enf.clue.v1") as clues:
            lines = "\n".join(json.dumps(urban_case(c), ensure_ascii=False) for c in cases)
            (drop / "batch-1.jsonl").write_text(lines + "\n", encoding="utf-8")
            wanted = {clue_id(c).encode() for c in cases}
            found = await clues.collect(2, lambda r: r.key in wanted, within=60)
            assert {r.key for r in found} == wanted
        # the status is stored every few seconds: wait for the one counting both rows
        for _ in range(40):
            status = await _hub(env, "connectors", "status", "--json")
            assert status.returncode == 0, status.stderr
            reported = json.loads(status.stdout)[name]
            if reported.get("emitted") == 2:
                break
            await asyncio.sleep(0.5)
        assert reported["state"] == "running" and reported["emitted"] == 2
