"""Shared fixtures: the real local Apache Kafka broker and unique names.

The session-scoped `kafka_bootstrap` fixture starts the project's own broker once
(deploy/kafka/kafka.sh, port 29092, fresh data) and stops it at the end, or uses
HUB_KAFKA_BOOTSTRAP when that is set. Tests that need it carry the `kafka` marker,
applied automatically to everything under tests/integration/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import shards

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (for a worker, a simulator, a server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A port P on 127.0.0.1 with P+1 free too (a broker's client and controller ports)."""
    while True:
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        if port < 64999:
            return port


TEST_KAFKA_PORT = int(os.environ.get("HUB_TEST_KAFKA_PORT", "29092"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard",
        metavar="I/N",
        help="keep only the real-broker modules of shard I of N (tests/shards.py; "
        "tests/run.sh runs the real-broker tests as N such runs side by side, each on its "
        "own broker); the tests that need no broker are not sharded",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.kafka)
    shard = config.getoption("--shard")
    if shard:
        try:
            index, count = shards.parse(shard)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        broker = [
            item for item in items
            if item.get_closest_marker("kafka") or item.get_closest_marker("cluster")
        ]
        where = shards.plan(
            (item.path.name for item in broker),
            (item.path.name for item in broker if "secure_cluster" in item.fixturenames),
            count,
        )
        kept = [item for item in items if where.get(item.path.name, index) == index]
        dropped = [item for item in items if where.get(item.path.name, index) != index]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # The demo floods every party's topics with minutes of random traffic: it runs last,
    # so the workers of other modules (reading their topics from the start) never see it.
    # The fault cases (a worker restarted within its session timeout) run just before it,
    # away from the start, when `make test` runs the unit tests beside these.
    late = {"test_faults.py": 1, "test_demo.py": 2}
    items.sort(key=lambda item: late.get(item.path.name, 0))


def kafka_sh(
    *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run deploy/kafka/kafka.sh with args; raise with its output when it fails and check."""
    result = subprocess.run(
        [str(KAFKA_SH), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"kafka.sh {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a running broker: HUB_KAFKA_BOOTSTRAP, or one started here."""
    given = os.environ.get("HUB_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    port = str(TEST_KAFKA_PORT)
    kafka_sh("reset", "--port", port)
    kafka_sh("start", "--port", port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        kafka_sh("stop", "--port", port, check=False)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make names (topics, groups, app ids) unique to this test: ``unique_name("orders")``."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]

    def make(prefix: str) -> str:
        return f"{prefix}-{base}-{uuid.uuid4().hex[:8]}"

    return make
