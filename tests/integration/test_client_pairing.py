"""The pinned clients work with the pinned broker (docs/design.md §11, KIP-896).

Kafka 4.x removed old protocol versions; these tests prove that kafka-python's admin
client, aiokafka (idempotent producer, consumer group) and a Faust agent with a table
all work against the broker that deploy/kafka/pom.xml pins.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from tests.conftest import free_port

HERE = Path(__file__).resolve().parent


def _create(bootstrap: str, *topics: str, partitions: int = 2) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {t: {"num_partitions": partitions, "replication_factor": 1} for t in topics},
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def test_kafka_python_admin_describes_the_cluster(kafka_bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        cluster = admin.describe_cluster()
        assert cluster["brokers"], cluster
        assert cluster["controller_id"] is not None
    finally:
        admin.close()


async def test_aiokafka_idempotent_producer_and_group_consumer(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("aiokafka")
    _create(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for i in range(50):
            await producer.send(topic, key=f"k{i % 5}".encode(), value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name("group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(received) < 50 and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                received.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert sorted(received) == sorted(f"v{i}".encode() for i in range(50))


def test_faust_agent_consumes_produces_and_writes_its_changelog(
    kafka_bootstrap: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    app_id = unique_name("faust")
    src, dst = unique_name("src"), unique_name("dst")
    _create(kafka_bootstrap, src, dst)
    env = {
        **os.environ,
        "BOOTSTRAP": kafka_bootstrap,
        "APP_ID": app_id,
        "SRC": src,
        "DST": dst,
        "WEB_PORT": str(free_port()),
        "DATADIR": str(tmp_path / "faust"),
    }
    log = tmp_path / "faust.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, str(HERE / "faust_roundtrip_app.py"), "worker", "-l", "info"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        for i in range(10):
            producer.send(src, key=f"order-{i % 3}".encode(), value=f"whistle-{i}".encode())
        producer.flush()
        producer.close()

        consumer = KafkaConsumer(
            dst,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            consumer_timeout_ms=1000,
        )
        received: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(received) < 10 and time.monotonic() < deadline:
            received.extend(record.value for record in consumer)
            assert worker.poll() is None, log.read_text()
        consumer.close()
        assert sorted(received) == sorted(f"WHISTLE-{i}".encode() for i in range(10)), (
            log.read_text()[-3000:]
        )

        changelog = KafkaConsumer(
            f"{app_id}-seen-changelog",
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            consumer_timeout_ms=3000,
        )
        keys = {record.key for record in changelog}
        changelog.close()
        assert keys == {b'"order-0"', b'"order-1"', b'"order-2"'}  # JSON-encoded keys
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0, log.read_text()[-3000:]
