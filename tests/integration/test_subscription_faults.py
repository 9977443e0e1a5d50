"""A subscription's snapshot survives its worker being killed mid-delivery (issue 17, on
the real broker): a street subscribes to a register of entities; while the hub delivers
the snapshot chunk by chunk, the worker holding the subscriptions is killed (SIGKILL)
and another started in its place. Every entity reaches the street's inbox (a chunk may
arrive twice, with the same ids), and the subscription's cursor ends at the topic's end."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from hub.records import uscc_check_char
from tests.conftest import ROOT
from tests.integration.conftest import http_json, issue_tokens, worker_env, worker_process

pytestmark = pytest.mark.kafka
HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET = "street-jiyuqiao"
ENTITIES = 12_000


def _register(path: Path, marker: str) -> set[str]:
    """ENTITIES entities sharing an address no other test uses; their credit codes."""
    keys = set()
    base = uuid.uuid4().int % 10**4
    with path.open("w", encoding="utf-8") as out:
        for n in range(ENTITIES):
            body = f"91420106{base:04d}{n:05d}"
            uscc = body + uscc_check_char(body)
            keys.add(uscc)
            out.write(json.dumps({
                "uscc": uscc, "name": f"武汉市武昌区测试商户{n}号", "legal_representative": "钱七",
                "address": marker, "registered_on": "2020-01-01", "status": "ACTIVE",
            }, ensure_ascii=False) + "\n")
    return keys


def _delivered_keys(base: str, token: str, subscription_id: str) -> list[str]:
    """The keys of every shared-change of the subscription in the street's inbox."""
    keys: list[str] = []
    cursor = ""
    while True:
        status, page = http_json(base, f"/v1/inbox?limit=1000&cursor={cursor}", token)
        assert status == 200, page
        for item in page["items"]:
            record = item.get("record") or {}
            if item.get("kind") == "shared-change" and record.get(
                    "subscription_id") == subscription_id:
                keys.append(record["key"])
        if not page["items"]:
            return keys
        cursor = page["cursor"]


def _subscription(base: str, token: str, subscription_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status, shown = http_json(base, f"/v1/subscriptions/{subscription_id}", token)
        if status == 200:
            return dict(shown)
        assert status in (404, 503) and time.monotonic() < deadline, shown
        time.sleep(0.3)


def test_a_snapshot_cut_by_a_killed_worker_is_delivered_whole_by_the_next(
    applied_topics: str, tmp_path: Path
) -> None:
    env = worker_env(applied_topics, tmp_path, "subscriptions")
    port = int(env["HUB_HTTP_PORT"])
    tokens = issue_tokens(env, (STREET,))
    base = f"http://127.0.0.1:{port}"
    marker = f"武昌区测试路{uuid.uuid4().hex[:8]}号"
    register = tmp_path / "register.jsonl"
    keys = _register(register, marker)
    loaded = subprocess.run([HUB, "shared", "load", str(register), "--quiet"], env=env,
                            capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr

    with worker_process(env, tmp_path / "first.log") as first:
        deadline = time.monotonic() + 120
        while True:  # the first worker holds the subscriptions' partition
            status, asked = http_json(base, "/v1/subscriptions", tokens[STREET], {
                "dataset": "entity", "purpose": "辖区测试商户",
                "filter_field": "address", "filter_value": marker,
            })
            if status == 202:
                break
            assert status == 503 and time.monotonic() < deadline, asked
            time.sleep(0.5)
        assert asked["state_after"] == "ACTIVE"  # a street reads entities: no approval
        subscription_id = asked["subscription_id"]
        deadline = time.monotonic() + 120
        while True:  # kill it once the snapshot is under way, not done
            delivered = _subscription(base, tokens[STREET], subscription_id)["delivered"]
            if delivered > 0:
                break
            assert time.monotonic() < deadline, "no delivery began"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert delivered < ENTITIES, f"the snapshot was done ({delivered}) before the kill"

    with worker_process(env, tmp_path / "second.log"):
        deadline = time.monotonic() + 180
        while True:
            got = _delivered_keys(base, tokens[STREET], subscription_id)
            if set(got) >= keys:
                break
            assert time.monotonic() < deadline, (
                f"{len(keys - set(got))} of {ENTITIES} entities never delivered")
            time.sleep(1)
        assert set(got) == keys  # nothing else: the filter held
        shown = _subscription(base, tokens[STREET], subscription_id)
        assert shown["state"] == "ACTIVE"
        assert shown["delivered"] >= ENTITIES
