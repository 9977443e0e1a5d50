"""The Kafka side authenticated and authorised (issue 18), on a real broker started with
SASL/SCRAM-SHA-512 over TLS and an authorizer (`kafka.sh start --tls`, the session's
`secure_cluster`): with `hub acls apply` and `hub users add` run as the admin, a street's
principal writes its raw topic and reads its inbox, and gets TopicAuthorizationFailed for
another street's inbox and raw topic, the canonical cases and the audit trail; a rotated
password locks the old one out; a second apply changes nothing; a client that does not
trust the hub's CA is refused at the handshake."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from kafka.admin import KafkaAdminClient

from connectors.conformance import eventually
from deploy.demo.party import PartySimulator
from tests.conftest import ROOT, free_port
from tests.integration.conftest import (
    SecureCluster,
    TopicWatch,
    open_kit,
    street_order,
    urban_case,
)

pytestmark = pytest.mark.kafka
HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET, OTHER = "street-jiyuqiao", "street-nanhu"


@pytest.fixture
def secured(secure_cluster: SecureCluster) -> SecureCluster:
    return secure_cluster


async def _write(config: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(**config, acks="all")
    try:  # a refused login fails start(): the producer is closed all the same
        await producer.start()
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 20)
    finally:
        await producer.stop()


async def _read(config: dict[str, Any], topic: str, group: str | None = None) -> int:
    """Records read from the start of topic's partition 0 (as group, or without one).

    A principal that may not even describe the topic gets error 29 in the metadata
    answer, which the clients log and wait on; it is raised here as the broker said it.
    One that may describe but not read gets it from the fetch (aiokafka raises it)."""
    described = await asyncio.to_thread(_describe, config, topic)
    if described == TopicAuthorizationFailedError.errno:
        raise TopicAuthorizationFailedError(topic)
    consumer = AIOKafkaConsumer(**config, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    try:
        await consumer.start()
        if group is None:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
        else:
            consumer.subscribe([topic])
        batches = await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 20)
        return sum(len(b) for b in batches.values())
    finally:
        await consumer.stop()


def _describe(config: dict[str, Any], topic: str) -> int:
    """The error code of topic's metadata as the principal of config sees it."""
    admin = KafkaAdminClient(**{k: v for k, v in config.items() if k != "request_timeout_ms"})
    try:
        (answer,) = admin.describe_topics([topic])
        return int(answer["error_code"])
    finally:
        admin.close()


def test_a_street_writes_its_raw_topic_and_reads_its_inbox(secured: SecureCluster) -> None:
    mine = secured.client(STREET)
    asyncio.run(_write(mine, f"raw.{STREET}.v1"))
    asyncio.run(_read(mine, f"out.{STREET}.v1", group=f"{STREET}-system"))


@pytest.mark.parametrize(
    ("action", "topic"),
    [
        ("read", f"out.{OTHER}.v1"),
        ("write", f"raw.{OTHER}.v1"),
        ("read", "enf.case.v1"),
        ("read", "hub.audit.v1"),
        ("read", "share.entity.v1"),
        ("write", f"out.{STREET}.v1"),  # its inbox is the hub's to write
    ],
)
def test_a_street_cannot_touch_what_is_not_its_own(
    secured: SecureCluster, action: str, topic: str
) -> None:
    mine = secured.client(STREET)
    with pytest.raises(TopicAuthorizationFailedError):
        if action == "read":
            asyncio.run(_read(mine, topic, group=f"{STREET}-probe"))
        else:
            asyncio.run(_write(mine, topic))


def test_the_ops_principal_describes_the_pipeline_but_reads_only_the_dlq(
    secured: SecureCluster,
) -> None:
    ops = secured.client("hub-ops")
    asyncio.run(_read(ops, "hub.dlq.v1"))
    with pytest.raises(TopicAuthorizationFailedError):  # may describe it, not read it
        asyncio.run(_read(ops, "enf.case.v1"))


def test_a_rotated_password_locks_the_old_one_out(secured: SecureCluster) -> None:
    old = secured.passwords[OTHER]
    asyncio.run(_write(secured.client(OTHER), f"raw.{OTHER}.v1"))
    rotated = secured.hub("users", "rotate", OTHER)
    assert rotated.returncode == 0, rotated.stderr
    (line,) = rotated.stdout.splitlines()
    new = line.split()[1]
    assert new != old and old not in rotated.stdout + rotated.stderr
    secured.passwords[OTHER] = new  # the cluster is the session's
    asyncio.run(_write(secured.client(OTHER, new), f"raw.{OTHER}.v1"))
    with pytest.raises(KafkaError):
        asyncio.run(_write(secured.client(OTHER, old), f"raw.{OTHER}.v1"))


def test_a_client_that_does_not_trust_the_hubs_ca_is_refused(secured: SecureCluster) -> None:
    untrusting = {**secured.client(STREET), "ssl_context": ssl.create_default_context()}
    with pytest.raises(KafkaError):
        asyncio.run(asyncio.wait_for(_write(untrusting, f"raw.{STREET}.v1"), 60))
    plain = {**secured.client(STREET), "security_protocol": "SASL_PLAINTEXT"}
    del plain["ssl_context"]
    with pytest.raises(KafkaError):
        asyncio.run(asyncio.wait_for(_write(plain, f"raw.{STREET}.v1"), 60))


def test_applying_the_acls_again_changes_nothing_and_diff_agrees(secured: SecureCluster) -> None:
    again = secured.hub("acls", "apply")
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout
    diff = secured.hub("acls", "diff")
    assert diff.returncode == 0 and "in sync" in diff.stdout, diff.stdout
    assert secured.hub("users", "add", "not-a-party").returncode != 0


def test_without_an_authorizer_acls_say_so(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap, "HUB_DATA_DIR": str(tmp_path),
           "HUB_LOG_LEVEL": "ERROR"}
    done = subprocess.run([HUB, "acls", "diff"], env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode != 0
    assert "authorizer" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr


def test_each_connector_runs_as_its_own_principal_with_only_its_party_and_role(
    secured: SecureCluster, tmp_path: Path
) -> None:
    """`hub connectors run NAME` as ``connector-<name>``: the file-drop source writes the
    department's raw topic, the webhook sink delivers the street's inbox; neither may read
    or write what the other does."""
    drop, port = tmp_path / "drop", free_port()
    drop.mkdir()
    config = tmp_path / "connectors.yaml"
    config.write_text(
        "connectors:\n"
        f"  - {{name: drop, party: dept-urban, type: file-drop, directory: '{drop}',"
        " native_kind: urban-case, interval_seconds: 0.2, settle_seconds: 0}\n"
        f"  - {{name: hook, party: {STREET}, type: webhook, url: 'http://127.0.0.1:{port}/inbox',"
        " backoff_max_seconds: 0.5, open_seconds: 1}\n",
        encoding="utf-8",
    )
    env = {"HUB_CONNECTORS_FILE": str(config)}
    applied = _hub(secured, "admin", env, "acls", "apply")
    assert "+ User:connector-hook READ GROUP secure-connector-hook" in applied, applied
    added = _hub(secured, "admin", env, "users", "add", "connector-drop", "connector-hook")
    for line in added.splitlines():
        user, secret = line.split()
        secured.passwords[user] = secret
    with _running(secured, env, tmp_path):
        asyncio.run(_deliveries(secured, drop, port))
    with pytest.raises(TopicAuthorizationFailedError):  # the source reads no inbox
        asyncio.run(_read(secured.client("connector-drop"), f"out.{STREET}.v1"))
    with pytest.raises(TopicAuthorizationFailedError):  # the sink writes no raw topic
        asyncio.run(_write(secured.client("connector-hook"), f"raw.{STREET}.v1"))


async def _deliveries(secured: SecureCluster, drop: Path, port: int) -> None:
    """A dropped file reaches the department's raw topic; an order in the street's inbox
    reaches the street's system."""
    async with (
        PartySimulator(kind="webhook", port=port) as street,
        TopicWatch(secured.client("admin"), "raw.dept-urban.v1") as raw,
        open_kit(secured) as kit,
    ):
        number = f"CG{uuid.uuid4().hex[:12].upper()}"
        (drop / f"{number}.json").write_text(
            json.dumps([urban_case(number)], ensure_ascii=False), encoding="utf-8")
        await raw.collect(1, lambda r: number.encode() in (r.value or b""), 30)
        order = street_order(STREET, f"ACL-{uuid.uuid4().hex[:6]}", 1)
        await kit.write_inbox(STREET, [("order", order, str(order.order_id).encode())])
        key = f"{order.record_id}:order"  # the webhook's Idempotency-Key
        await eventually(lambda: key in street.distinct_keys(),
                         "the order delivered to the street", within=30)


def _hub(secured: SecureCluster, user: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([HUB, *args], env={**secured.env(user), **env}, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def _running(secured: SecureCluster, env: dict[str, str], logs: Path) -> Iterator[None]:
    """`hub connectors run drop` and `... hook`, each as its own principal, until exit."""
    processes = []
    for name in ("drop", "hook"):
        with (logs / f"{name}.log").open("wb") as log:
            processes.append(subprocess.Popen(
                [HUB, "connectors", "run", name],
                env={**secured.env(f"connector-{name}", HUB_LOG_LEVEL="INFO"), **env},
                stdout=log, stderr=subprocess.STDOUT))
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process, name in zip(processes, ("drop", "hook"), strict=True):
            assert process.wait(timeout=30) == 0, (logs / f"{name}.log").read_text()[-2000:]
            said = (logs / f"{name}.log").read_text()
            assert "WARNING" not in said and "ERROR" not in said, said[-2000:]
