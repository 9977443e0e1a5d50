"""The Kafka side authenticated and authorised (issue 18), on a real broker started with
SASL/SCRAM-SHA-512 and an authorizer (`kafka.sh start --sasl`): with `hub acls apply`
and `hub users add` run as the admin, a street's principal writes its raw topic and reads
its inbox, and gets TopicAuthorizationFailed for another street's inbox and raw topic,
the canonical cases and the audit trail; a rotated password locks the old one out; a
second apply changes nothing."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from kafka.admin import KafkaAdminClient

from tests.conftest import ROOT, free_port, kafka_sh

pytestmark = pytest.mark.kafka
HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET, OTHER = "street-jiyuqiao", "street-nanhu"


class Secured:
    def __init__(self, bootstrap: str, admin_env: dict[str, str]) -> None:
        self.bootstrap = bootstrap
        self.admin_env = admin_env
        self.passwords: dict[str, str] = {}

    def hub(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HUB, *args], env=self.admin_env, capture_output=True,
                              text=True, check=False, timeout=120)

    def client(self, user: str, password: str | None = None) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap, "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": password or self.passwords[user],
            "request_timeout_ms": 10_000,
        }


def _two_free_ports() -> int:
    """A port P with P+1 free too (a node's client and controller listeners)."""
    while True:
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        if port < 64999:
            return port


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    data = tmp_path_factory.mktemp("sasl-broker")
    port = str(_two_free_ports())
    args = ("--port", port, "--data", str(data), "--heap", "384m", "--sasl")
    kafka_sh("start", *args)
    try:
        password = (data / "admin.password").read_text().strip()
        env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "HUB_KAFKA_SASL_USERNAME": "admin",
            "HUB_KAFKA_SASL_PASSWORD": password,
            "HUB_DATA_DIR": str(data / "hub"),
            "HUB_LOG_LEVEL": "ERROR",
        }
        secured = Secured(f"127.0.0.1:{port}", env)
        for step in (("topics", "apply", "--quiet"), ("acls", "apply")):
            done = secured.hub(*step)
            assert done.returncode == 0, done.stdout + done.stderr
        added = secured.hub("users", "add", STREET, OTHER, "hub-ops")
        assert added.returncode == 0, added.stderr
        for line in added.stdout.splitlines():
            user, secret = line.split()
            secured.passwords[user] = secret
        assert set(secured.passwords) == {STREET, OTHER, "hub-ops"}
        yield secured
    finally:
        kafka_sh("stop", "--port", port, "--data", str(data), check=False)


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


def test_a_street_writes_its_raw_topic_and_reads_its_inbox(secured: Secured) -> None:
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
    secured: Secured, action: str, topic: str
) -> None:
    mine = secured.client(STREET)
    with pytest.raises(TopicAuthorizationFailedError):
        if action == "read":
            asyncio.run(_read(mine, topic, group=f"{STREET}-probe"))
        else:
            asyncio.run(_write(mine, topic))


def test_the_ops_principal_describes_the_pipeline_but_reads_only_the_dlq(
    secured: Secured,
) -> None:
    ops = secured.client("hub-ops")
    asyncio.run(_read(ops, "hub.dlq.v1"))
    with pytest.raises(TopicAuthorizationFailedError):  # may describe it, not read it
        asyncio.run(_read(ops, "enf.case.v1"))


def test_a_rotated_password_locks_the_old_one_out(secured: Secured) -> None:
    old = secured.passwords[OTHER]
    asyncio.run(_write(secured.client(OTHER), f"raw.{OTHER}.v1"))
    rotated = secured.hub("users", "rotate", OTHER)
    assert rotated.returncode == 0, rotated.stderr
    (line,) = rotated.stdout.splitlines()
    new = line.split()[1]
    assert new != old and old not in rotated.stdout + rotated.stderr
    asyncio.run(_write(secured.client(OTHER, new), f"raw.{OTHER}.v1"))
    with pytest.raises(KafkaError):
        asyncio.run(_write(secured.client(OTHER, old), f"raw.{OTHER}.v1"))


def test_applying_the_acls_again_changes_nothing_and_diff_agrees(secured: Secured) -> None:
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
