"""The project's own local Apache Kafka (deploy/kafka/kafka.sh) behaves as the hub needs."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from tests.conftest import KAFKA_SH, ROOT, kafka_sh

PROBE = ROOT / "deploy" / "kafka" / "probe.py"


def _free_ports(count: int = 2) -> int:
    """A port P with P..P+count-1 all free (broker and controller listeners per node).

    Picked below the kernel's ephemeral range (which starts at 32768), so clients'
    outgoing connections cannot take them between this check and the broker start.
    """
    for _ in range(200):
        port = random.randrange(20000, 32000 - count, 2)  # noqa: S311
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port range")


def test_session_broker_answers_metadata(kafka_bootstrap: str) -> None:
    result = subprocess.run(
        ["python3", str(PROBE), kafka_bootstrap.split(",")[0]], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_probe_fails_when_nothing_listens() -> None:
    port = _free_ports()
    result = subprocess.run(
        ["python3", str(PROBE), f"127.0.0.1:{port}", "--timeout", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "not answering" in result.stderr


def test_data_survives_a_broker_stop_and_start(tmp_path: Path) -> None:
    port = str(_free_ports())
    data = str(tmp_path / "kafka")
    bootstrap = f"127.0.0.1:{port}"
    kafka_sh("start", "--port", port, "--data", data)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics({"durable": {"num_partitions": 2, "replication_factor": 1}})
        admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        for i in range(20):
            producer.send("durable", key=f"order-{i % 4}".encode(), value=f"event-{i}".encode())
        producer.flush()
        producer.close()

        stopped = kafka_sh("stop", "--port", port, "--data", data)
        assert "stopped 1 node" in stopped.stdout
        assert kafka_sh("status", "--port", port, "--data", data, check=False).returncode != 0

        restarted = kafka_sh("start", "--port", port, "--data", data)
        assert "ready" in restarted.stdout
        consumer = KafkaConsumer(
            "durable",
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            consumer_timeout_ms=10_000,
        )
        values = sorted(record.value.decode() for record in consumer)
        consumer.close()
        assert values == sorted(f"event-{i}" for i in range(20))
    finally:
        kafka_sh("stop", "--port", port, "--data", data, check=False)


def test_failed_start_prints_the_log_tail_and_exits_non_zero(tmp_path: Path) -> None:
    port = _free_ports()
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = kafka_sh("start", "--port", str(port), "--data", str(tmp_path), check=False)
    kafka_sh("stop", "--port", str(port), "--data", str(tmp_path), check=False)
    assert result.returncode != 0
    assert "last lines of" in result.stderr
    assert "server.log" in result.stderr


def test_second_fetch_needs_no_network_or_maven(tmp_path: Path) -> None:
    """The jar cache is reused: fetch succeeds with mvn nowhere on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sed", "python3", "dirname", "cat", "ls", "wc"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run(
        [str(KAFKA_SH), "fetch"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "fetching" not in result.stdout


def test_bad_arguments_are_explained() -> None:
    result = kafka_sh("start", "--nodes", "2", check=False)
    assert result.returncode != 0
    assert "--nodes must be 1 or 3" in result.stderr


@pytest.mark.cluster
def test_three_node_cluster_replicates(tmp_path: Path) -> None:
    port = str(_free_ports(6))
    data = str(tmp_path / "cluster")
    args = ("--nodes", "3", "--port", port, "--data", data, "--heap", "384m")
    kafka_sh("start", *args, timeout=240)
    try:
        bootstrap = ",".join(f"127.0.0.1:{int(port) + 2 * i}" for i in range(3))
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        assert len(admin.describe_cluster()["brokers"]) == 3
        admin.create_topics(
            {"replicated": {"num_partitions": 3, "replication_factor": 3}}, wait_for_metadata=True
        )
        (topic,) = admin.describe_topics(["replicated"])
        assert all(len(p["replica_nodes"]) == 3 for p in topic["partitions"])
        admin.close()
        config = (tmp_path / "cluster" / "node-2" / "server.properties").read_text()
        assert "min.insync.replicas=2" in config
        assert "default.replication.factor=3" in config
    finally:
        kafka_sh("stop", *args, check=False)
