"""A stuck stage on the real broker: a worker whose dispatch stage cannot deliver (the
recipient's inbox topic refuses every record) says so on /readyz within 30 s, naming the
stage and why; once the topic takes records again the stage goes on by itself, /readyz
is ready within 30 s and the order it held reaches the inbox: nothing accepted is lost."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from tests.integration.conftest import http_json, issue_tokens, running_worker, worker_env
from tests.samples import sample

pytestmark = pytest.mark.kafka

INBOX = "out.dept-urban.v1"
WITHIN = 30.0


def _readyz(base: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as answer:  # noqa: S310
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def _inbox_end(base: str, token: str) -> str:
    cursor = ""
    while True:
        status, page = http_json(base, f"/v1/inbox?limit=1000&cursor={cursor}", token)
        assert status == 200, page
        cursor = page["cursor"]
        if not page["items"]:
            return cursor


def _until(what: str, check: Any, within: float = WITHIN) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"{what} not within {within:.0f} s"
        time.sleep(0.5)
    return time.monotonic() - started


def _inbox_refuses(admin: KafkaAdminClient, limit: str) -> None:
    """Every record is larger than limit bytes (an incremental change: the topic's other
    settings stay)."""
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, INBOX, configs={"max.message.bytes": limit})],
        incremental=True,
    )


def _inbox_takes_records_again(admin: KafkaAdminClient) -> None:
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, INBOX,
                        configs={"max.message.bytes": ("DELETE", None)})],
        incremental=True,
    )


def test_a_stuck_stage_is_named_on_readyz_and_flows_again_by_itself(
    applied_topics: str, tmp_path: Path
) -> None:
    env = worker_env(applied_topics, tmp_path / "data", "stuck", HUB_KAFKA_TIMEOUT="5")
    tokens = issue_tokens(env, ("street-jiyuqiao", "dept-urban"))
    admin = KafkaAdminClient(bootstrap_servers=applied_topics)
    try:
        with running_worker(env, tmp_path / "worker.log") as base:
            _until("the worker ready", lambda: _readyz(base)[0] == 200, within=60)
            start = _inbox_end(base, tokens["dept-urban"])
            _inbox_refuses(admin, "16")
            order = sample("order", source_id=f"STUCK-{uuid.uuid4().hex[:12]}")
            status, answer = http_json(base, "/v1/records/order", tokens["street-jiyuqiao"], order)
            assert status == 202, answer

            def stuck() -> bool:
                status, body = _readyz(base)
                return status == 503 and "dispatch-orders" in body["checks"]["stages"]

            _until("/readyz naming the stuck stage", stuck)
            status, body = _readyz(base)
            assert body["status"] == "not ready"
            assert "retrying" in body["checks"]["stages"], body

            _inbox_takes_records_again(admin)
            _until("/readyz ready again", lambda: _readyz(base)[0] == 200)

            def delivered() -> bool:
                status, page = http_json(
                    base, f"/v1/inbox?limit=1000&cursor={start}", tokens["dept-urban"]
                )
                return status == 200 and any(
                    item.get("record", {}).get("order_id") == answer["record_id"]
                    for item in page["items"]
                )

            _until("the held order in the inbox", delivered)
    finally:
        _inbox_takes_records_again(admin)
        admin.close()
