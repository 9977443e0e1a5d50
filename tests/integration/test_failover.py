"""Two workers share the order partitions; one is killed (SIGKILL) mid-stream and the
survivor takes over its partitions and table state: every order finishes with each event
applied once, and the month's assessment counts each step once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient

from hub.records import validate
from hub.reference import BEIJING
from hub.registry import RegistryClient
from hub.serde import AvroSerde
from tests.conftest import ROOT, free_port
from tests.integration.conftest import http_json, issue_tokens, worker_process
from tests.samples import sample

pytestmark = pytest.mark.kafka

HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET, DEPARTMENT = "street-shidong", "dept-planning"  # used by this test only
ORDERS = 40
STORY = [
    ("SIGNED", DEPARTMENT, {}),
    ("REPORTED", DEPARTMENT, {}),
    ("FEEDBACK", DEPARTMENT, {"comment": "已核查，违法建设已拆除"}),
    ("CLOSED", STREET, {}),
    ("EVALUATED", STREET, {"rating": 5}),
]


def _get(base: str, path: str, token: str) -> tuple[int, Any]:
    return http_json(base, path, token, timeout=15)


def _ready(log: Path) -> int:
    """How many times a worker finished recovery (once per rebalance it went through)."""
    return log.read_text(errors="replace").count("Worker ready")


def _members(bootstrap: str, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_groups([group])
    finally:
        admin.close()
    info = described[group] if isinstance(described, dict) else described[0]
    state = info["group_state"] if isinstance(info, dict) else info.state
    members = info["members"] if isinstance(info, dict) else info.members
    return len(members) if state == "Stable" else 0


def _records(now: datetime) -> tuple[list[Any], list[list[Any]]]:
    orders, stages = [], []
    for n in range(ORDERS):
        orders.append(
            validate(
                "order",
                sample(
                    "order",
                    source_party=STREET,
                    from_party=STREET,
                    to_parties=[DEPARTMENT],
                    source_id=f"FO-{uuid.uuid4().hex[:10]}-{n}",
                    occurred_at=now.isoformat(),
                    issued_at=now.isoformat(),
                    deadline=(now + timedelta(days=2)).isoformat(),
                ),
            )
        )
    for event_type, actor, extra in STORY:
        stages.append(
            [
                validate(
                    "order-event",
                    {
                        "source_party": actor,
                        "source_id": f"FE-{uuid.uuid4().hex[:12]}",
                        "occurred_at": now.isoformat(),
                        "order_id": str(order.record_id),
                        "event_type": event_type,
                        "actor_party": actor,
                        **extra,
                    },
                )
                for order in orders
            ]
        )
    return orders, stages


async def _encode(registry_url: str, kind: str, records: list[Any]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each record, encoded while the registry is surely up."""
    async with RegistryClient(registry_url) as client:
        serde = AvroSerde(client)
        return [(str(r.order_id).encode(), await serde.encode(kind, r)) for r in records]


async def _publish(
    bootstrap: str, topic: str, kind: str, encoded: list[tuple[bytes, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for key, value in encoded:
            await producer.send(topic, key=key, value=value, headers=[("hub.kind", kind.encode())])
        await producer.flush()
    finally:
        await producer.stop()


def test_killing_one_of_two_workers_loses_and_duplicates_no_order_state(
    applied_topics: str, tmp_path: Path
) -> None:
    app_id = f"failover-{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]

    def env(name: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": applied_topics,
            "HUB_APP_ID": app_id,
            "HUB_DATA_DIR": str(tmp_path / name),
            "HUB_TOKENS_FILE": str(tmp_path / "tokens.json"),  # shared by both workers
            "HUB_HTTP_PORT": str(port),
            "HUB_KAFKA_SESSION_TIMEOUT": "8",
        }

    first, second = env("first", ports[0]), env("second", ports[1])
    subprocess.run([HUB, "reference", "load"], env=first, capture_output=True, check=True)
    tokens = issue_tokens(first, (STREET, DEPARTMENT, "justice"))
    base = f"http://127.0.0.1:{ports[0]}"
    other = f"http://127.0.0.1:{ports[1]}"
    with (
        worker_process(first, tmp_path / "first.log"),
        worker_process(second, tmp_path / "second.log") as victim,
    ):
        deadline = time.monotonic() + 90
        while _members(applied_topics, app_id) != 2:
            assert time.monotonic() < deadline, "the two workers never formed one group"
            time.sleep(1)
        # Publish once both have restored their share (the fault suite covers records
        # that arrive during a rebalance: tests/faults).
        while not (_ready(tmp_path / "first.log") >= 2 and _ready(tmp_path / "second.log") >= 1):
            assert time.monotonic() < deadline, "the workers did not finish the rebalance"
            time.sleep(0.5)

        orders, stages = _records(datetime.now(UTC))
        ids = [str(order.record_id) for order in orders]
        registry = base + "/registry"
        encoded_orders = asyncio.run(_encode(registry, "order", orders))
        encoded_stages = [asyncio.run(_encode(registry, "order-event", s)) for s in stages]

        def publish(stage: int | None) -> None:
            if stage is None:
                asyncio.run(_publish(applied_topics, "enf.order.v1", "order", encoded_orders))
            else:
                asyncio.run(
                    _publish(
                        applied_topics, "enf.order-event.v1", "order-event", encoded_stages[stage]
                    )
                )

        publish(None)
        # both workers answer for every order, forwarding to the partition's owner (a new
        # group reads the whole session's backlog first: that can take minutes in CI)
        deadline = time.monotonic() + 300
        for order_id in ids:
            while True:
                seen = [
                    _get(url, f"/v1/orders/{order_id}", tokens[STREET]) for url in (base, other)
                ]
                if all(status == 200 for status, _ in seen):
                    assert seen[0][1] == seen[1][1]
                    break
                assert time.monotonic() < deadline, seen
                time.sleep(0.3)
        publish(0)
        publish(1)
        victim.send_signal(signal.SIGKILL)  # mid-stream: its last work is not committed
        victim.wait(timeout=10)
        for stage in range(2, len(STORY)):
            publish(stage)

        deadline = time.monotonic() + 300
        while True:
            status, listed = _get(base, "/v1/orders?role=issued&state=EVALUATED", tokens[STREET])
            done = {o["order_id"] for o in listed.get("orders", [])} if status == 200 else set()
            if set(ids) <= done:
                break
            assert time.monotonic() < deadline, (
                f"{len(set(ids) & done)} of {ORDERS} orders finished; "
                + (tmp_path / "first.log").read_text()[-2000:]
            )
            time.sleep(1)
        for order_id in ids:
            status, view = _get(base, f"/v1/orders/{order_id}", tokens[STREET])
            assert status == 200
            assert [step["event_type"] for step in view["history"]] == [s for s, _, _ in STORY]

        period = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m")
        status, report = _get(base, f"/v1/assessment?period={period}", tokens["justice"])
        assert status == 200
        by_party = {p["party"]: p for p in report["parties"]}
        department, street = by_party[DEPARTMENT], by_party[STREET]
        assert department["received"] == ORDERS and street["issued"] == ORDERS
        assert department["signed"] == department["signed_on_time"] == ORDERS
        assert department["answered"] == department["answered_on_time"] == ORDERS
        assert department["evaluations"] == ORDERS and department["mean_evaluation"] == 5.0
