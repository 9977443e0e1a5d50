"""Fixtures shared by the real-broker tests: an embedded registry served over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kafka.admin import KafkaAdminClient

from hub.http import TokenStore
from hub.registry import EmbeddedRegistry, registry_app
from hub.settings import HubSettings
from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


free_port = _free_port


def worker_env(bootstrap: str, data: Path, app_prefix: str, **settings: str) -> dict[str, str]:
    """The environment of a test worker: its own data dir, HTTP port and app id (so its
    groups and changelogs are its own), reading only traffic that comes after it starts
    (the session's topics are shared), with the reference data loaded; settings adds
    or overrides HUB_* variables (``HUB_CONNECTORS_FILE=...``)."""
    port = _free_port()
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
        "HUB_DATA_DIR": str(data),
        "HUB_HTTP_PORT": str(port),
        "HUB_APP_ID": f"{app_prefix}-{port}",
        "HUB_KAFKA_OFFSET_RESET": "latest",
        "HUB_DEADLINE_SWEEP_SECONDS": "1",
        **settings,
    }
    hub = str(ROOT / ".venv" / "bin" / "hub")
    loaded = subprocess.run(
        [hub, "reference", "load"], env=env, capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr
    return env


def issue_tokens(env: dict[str, str], parties: Iterable[str]) -> dict[str, str]:
    """A fresh bearer token for each party, in env's tokens file: what `hub tokens issue`
    does (tests/unit/test_cli.py runs the command), without a Python start-up per party."""
    tokens_file = env.get("HUB_TOKENS_FILE") or str(Path(env["HUB_DATA_DIR"]) / "tokens.json")
    store = TokenStore(Path(tokens_file))
    return {party: store.issue(party)[0] for party in parties}


def create_schemas_topic(bootstrap: str, name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {
                name: {
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "configs": {"cleanup.policy": "compact"},
                }
            },
            wait_for_metadata=True,
        )
    finally:
        admin.close()


class Served:
    """An embedded registry served over HTTP at <url>/registry, as a worker does."""

    def __init__(
        self, settings: HubSettings, topic: str, users: dict[str, str] | None = None
    ) -> None:
        self.registry = EmbeddedRegistry(settings, topic=topic)
        self.users = users
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/registry"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        await self.registry.start()
        root = web.Application()
        root.add_subapp("/registry", registry_app(self.registry, self.users))
        self._runner = web.AppRunner(root)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.registry.stop()


@pytest.fixture
def schemas_topic(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> str:
    topic = unique_name("_schemas")
    create_schemas_topic(kafka_bootstrap, topic)
    return topic


@pytest.fixture
async def served(kafka_bootstrap: str, schemas_topic: str) -> AsyncIterator[Served]:
    server = Served(HubSettings(kafka_bootstrap=kafka_bootstrap), schemas_topic)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def applied_topics(kafka_bootstrap: str) -> str:
    """The shipped topic declarations applied (`hub topics apply`) to the session broker."""
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hub"), "topics", "apply"],
        env={**os.environ, "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return kafka_bootstrap


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `hub worker` subprocess with env, logging to log; yields the process once /healthz
    answers, and stops it (SIGTERM) on exit unless the test ended it. Fails with the log
    tail if it dies or hangs."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "hub"), "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{env['HUB_HTTP_PORT']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                break
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def http_json(
    base: str, path: str, token: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """GET (or POST body as JSON) path of a worker with a bearer token: (status, JSON)."""
    request = urllib.request.Request(  # noqa: S310
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[str]:
    """`worker_process`, yielding the worker's base URL."""
    with worker_process(env, log):
        yield f"http://127.0.0.1:{env['HUB_HTTP_PORT']}"
