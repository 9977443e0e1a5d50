"""Fixtures shared by the real-broker tests: an embedded registry served over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_exceptions import NotAppKeyWarning
from aiohttp.web_request import BaseRequest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from kafka.admin import KafkaAdminClient

from connectors import (
    ConnectorRunner,
    FileDropConnector,
    KafkaConnector,
    PollConnector,
    WebhookConnector,
)
from deploy.demo.party import PartySimulator
from hub.catalogue import matter_record, officer_record
from hub.http import Core, TokenStore
from hub.mapping import SpecCatalogue, load_catalogue
from hub.records import derive_record_id, validate
from hub.reference import PartyKind, Reference, Registry, load_parties, load_seed_reference
from hub.registry import EmbeddedRegistry, LocalRegistryClient, open_registry, registry_app
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import ProducerEmitter, StateStore, read_state
from tests.conftest import ROOT, free_port, free_port_pair, kafka_sh
from tests.samples import sample


def worker_env(bootstrap: str, data: Path, app_prefix: str, **settings: str) -> dict[str, str]:
    """The environment of a test worker: its own data dir, HTTP port and app id (so its
    groups and changelogs are its own), reading only traffic that comes after it starts
    (the session's topics are shared), with the reference data loaded; settings adds
    or overrides HUB_* variables (``HUB_CONNECTORS_FILE=...``)."""
    port = free_port()
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


# ------------------------------------------------ the secured cluster (issue 18)

SECURE_APP = "secure"  # the app id the secured cluster's ACLs are made for (workers: secure-…)


@dataclass
class SecureCluster:
    """A broker that authenticates every client with SCRAM-SHA-512 over TLS (SASL_SSL, a
    test CA made by kafka.sh) and authorises every request (`hub acls apply`); every party
    with an inbox, ``hub-worker`` and ``hub-ops`` have a principal and a password."""

    bootstrap: str
    data: Path
    passwords: dict[str, str]

    @property
    def cafile(self) -> Path:
        return self.data / "tls" / "ca.pem"

    def env(self, user: str, **settings: str) -> dict[str, str]:
        """The HUB_* settings of a hub command or worker running as user."""
        return {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "HUB_KAFKA_SASL_USERNAME": user,
            "HUB_KAFKA_SASL_PASSWORD": self.passwords[user],
            "HUB_KAFKA_SSL_CAFILE": str(self.cafile),
            "HUB_DATA_DIR": str(self.data / "hub"),
            "HUB_LOG_LEVEL": "ERROR",
            "HUB_APP_ID": SECURE_APP,  # a worker's: secure-<name>, within the ACLs' prefixes
            **settings,
        }

    def hub(self, *args: str, user: str = "admin") -> subprocess.CompletedProcess[str]:
        return subprocess.run([HUB, *args], env=self.env(user), capture_output=True,
                              text=True, check=False, timeout=120)

    def settings(self, user: str) -> HubSettings:
        """The hub's settings of an in-process client logged in as user."""
        return HubSettings(
            kafka_bootstrap=self.bootstrap, kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username=user,
            kafka_sasl_password=self.passwords[user], kafka_ssl_cafile=self.cafile,
            app_id=SECURE_APP,
        )

    def client(self, user: str, password: str | None = None) -> dict[str, Any]:
        """Options of an aiokafka (or kafka-python) client logged in as user."""
        return {
            "bootstrap_servers": self.bootstrap, "security_protocol": "SASL_SSL",
            "ssl_context": ssl.create_default_context(cafile=str(self.cafile)),
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": password or self.passwords[user],
            "request_timeout_ms": 10_000,
        }


@pytest.fixture(scope="session")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    """A SASL_SSL broker of its own (beside the session's plaintext one) with the declared
    topics, the hub's ACLs for app id ``secure`` and every principal's password."""
    data = tmp_path_factory.mktemp("secure-broker")
    port = str(free_port_pair())
    args = ("--port", port, "--data", str(data), "--heap", "384m", "--tls")
    kafka_sh("start", *args)
    try:
        cluster = SecureCluster(f"127.0.0.1:{port}", data,
                                {"admin": (data / "admin.password").read_text().strip()})
        for step in (("topics", "apply", "--quiet"), ("acls", "apply")):
            done = subprocess.run([HUB, *step], env=cluster.env("admin"),
                                  capture_output=True, text=True, check=False, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        principals = [p.id for p in load_parties(ROOT / "hub/reference/parties.yaml").with_inbox()]
        added = cluster.hub("users", "add", *principals, "hub-worker", "hub-ops")
        assert added.returncode == 0, added.stderr
        for line in added.stdout.splitlines():
            user, secret = line.split()
            cluster.passwords[user] = secret
        loaded = cluster.hub("reference", "load", user="hub-worker")
        assert loaded.returncode == 0, loaded.stderr
        yield cluster
    finally:
        kafka_sh("stop", *args[:4], check=False)


LATE_PRIORITY = "CRITICAL"


def fast_deadlines(folder: Path) -> Path:
    """The shipped deadlines with every CRITICAL order's sign-off and acceptance due 2 to 3
    seconds after the hub received it: the tests' controllable clock (the hub's clocks
    start at its receipt, so an order cannot be made late by backdating issued_at; an
    issuer's own past deadline still makes its answer late)."""
    path = folder / "deadlines-fast.yaml"
    shipped = (ROOT / "hub/reference/deadlines.yaml").read_text(encoding="utf-8")
    fast = re.sub(r"(CRITICAL: \{sign_off_hours: )[0-9.]+", r"\g<1>0.0005", shipped)
    fast = re.sub(r"(CRITICAL: \{acceptance_days: )[0-9.]+", r"\g<1>0.00003", fast)
    assert fast.count("0.0005,") == 6 and fast.count("0.00003}") == 4, "update fast_deadlines"
    path.write_text(fast, encoding="utf-8")
    return path


FAST_FINE_SECONDS = {  # a decided fine's periods on the tests' clock, in seconds
    "payment": 2, "reconsideration": 3, "lawsuit": 5, "reminder_wait": 3,
    "application_window": 600,
}


def fast_enforcement(folder: Path) -> Path:
    """The shipped enforcement periods, each as FAST_FINE_SECONDS says: a fine decided
    now is overdue 2 s later, its window opens at 5 s, an application may follow 3 s
    after the reminder was served (the tests' controllable clock for a fine)."""
    shipped = yaml.safe_load((ROOT / "hub/reference/enforcement.yaml").read_text("utf-8"))
    assert set(shipped) == {*FAST_FINE_SECONDS, "disclosure"}, "update FAST_FINE_SECONDS"
    fast = {
        name: {"days": FAST_FINE_SECONDS[name] / 86400, "basis": period["basis"]}
        if name in FAST_FINE_SECONDS else period
        for name, period in shipped.items()
    }
    path = folder / "enforcement-fast.yaml"
    path.write_text(yaml.safe_dump(fast, allow_unicode=True), encoding="utf-8")
    return path


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
        self.port = free_port()
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
    base: str, path: str, token: str, body: Any = None, timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """GET (or POST body as JSON) path of a worker with a bearer token (and headers):
    (status, JSON)."""
    request = urllib.request.Request(  # noqa: S310
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 **(headers or {})},
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


# ---------------------------------------- helpers shared by the tests (from test_gateway.py)

PROBLEM = "application/problem+json"


HUB_OWNED = ("record_id", "received_at")


# One representative party of every kind of party (docs/design.md §2).
REPRESENTATIVES: dict[PartyKind, str] = {
    PartyKind.STREET: "street-jiyuqiao",
    PartyKind.DEPARTMENT: "dept-urban",
    PartyKind.POLICE: "police",
    PartyKind.PROCURATORATE: "procuratorate",
    PartyKind.COURT: "court",
    PartyKind.BIGDATA: "bigdata",
    PartyKind.JUSTICE: "justice",
    PartyKind.FINANCE: "finance",
    PartyKind.OPS: "ops",
}


_SEED = load_seed_reference()


def source_id(prefix: str) -> str:
    return f"T-{prefix}-{uuid.uuid4().hex[:12]}"


def _shared(model: Any) -> dict[str, Any]:
    """JSON of a seed-derived shared record without the fields the hub owns."""
    data: dict[str, Any] = json.loads(model.model_dump_json())
    for name in (*HUB_OWNED, "schema_version", "trace_id"):
        data.pop(name, None)
    return data


def _case_of(party: str) -> dict[str, Any]:
    """What makes the sample case party's own: owner, two of its usable officers, a
    matter it may decide (a street's delegated ones, a department's own)."""
    today = datetime.now(UTC).date()
    officers = [
        {"certificate_no": o.certificate_no, "name": o.name}
        for o in sorted(_SEED.officers.values(), key=lambda o: o.certificate_no)
        if o.party == party and o.usable_on(today)
    ][:2]
    if len(officers) < 2:  # not a party that holds cases (its publishing is refused)
        return {"owner_party": party}
    kind = _SEED.parties.get(party).kind
    matter = next(
        code for code, m in sorted(_SEED.matters.items())
        if m.decided_by(party, kind) and m.max_fine_yuan
    )
    return {"owner_party": party, "officers": officers, "matter_code": matter}


# the order type each supervising party issues (`hub.http.policy.ISSUABLE`)
_ORDER_OF: dict[str, dict[str, Any]] = {
    "police": {"order_type": "REVERSE_TRANSFER", "transfer": {
        "stop_order_issued": False, "reason": "不构成犯罪", "materials": ["不予立案通知书"]}},
    "procuratorate": {"order_type": "RECOMMENDATION"},
    "justice": {"order_type": "SUPERVISION_NOTICE"},
}


def record_for(kind: str, party: str, sid: str | None = None) -> dict[str, Any]:
    """A record of kind that is valid when party publishes it (party is the source).

    Matters and officers are the seed catalogue's own entries (URB-001, 42010601001), so
    publishing them leaves the shared reference topics saying what the seed says.
    """
    sid = sid or source_id(kind)
    mine = {"source_party": party, "source_id": sid}
    if kind == "clue":
        return sample("clue", **mine)
    if kind == "case":
        return sample("case", **mine, **_case_of(party))
    if kind == "order":
        other = "street-jiyuqiao" if party == "dept-urban" else "dept-urban"
        return sample("order", **mine, from_party=party, to_parties=[other],
                      **_ORDER_OF.get(party, {}))
    if kind == "order-event":
        return sample("order-event", **mine, actor_party=party, order_id=str(uuid.uuid4()))
    if kind in ("entity", "permit", "execution"):
        return sample(kind, **mine)
    if kind == "matter":
        return {**_shared(matter_record(_SEED.matters["URB-001"], publisher=party)), **mine}
    if kind == "officer":
        return {**_shared(officer_record(_SEED.officers["42010601001"], publisher=party)), **mine}
    raise AssertionError(f"no record builder for {kind}")


def settings_for(bootstrap: str, data: Path, **changes: Any) -> HubSettings:
    data.mkdir(parents=True, exist_ok=True)
    return HubSettings(
        kafka_bootstrap=bootstrap,
        data_dir=data,
        tokens_file=data / "tokens.json",
        **changes,
    )


@dataclass
class GatewayServed:
    """One gateway served over HTTP, with a token per party."""

    core: Core
    client: TestClient[web.Request, web.Application]
    store: TokenStore
    tokens: dict[str, str]

    def token(self, party: str) -> str:
        if party not in self.tokens:
            self.tokens[party], _ = self.store.issue(party)
        return self.tokens[party]

    async def close(self) -> None:
        await self.client.close()  # stops the server: app cleanup stops the gateway's clients


async def serve(
    settings: HubSettings,
    reference: Reference,
    serde: AvroSerde,
    parties: Iterable[str] = REPRESENTATIVES.values(),
) -> GatewayServed:
    store = TokenStore(settings.tokens_path)  # the issuer's view of the file, as the CLI has
    tokens = {party: store.issue(party)[0] for party in parties}
    app = web.Application(client_max_size=settings.gateway_body_limit)
    core = Core.install(app, settings, lambda: reference, serde)  # reads the tokens file

    client = TestClient(TestServer(app, host="127.0.0.1", port=free_port()))
    await client.start_server()
    served = GatewayServed(core, client, store, tokens)
    await _prime_request_keys(served)
    return served


# The gateway keeps per-request state under plain string keys; aiohttp warns once per
# process for each such key (NotAppKeyWarning), and warnings are errors here, so the
# first request to use a key would answer 500. Let every key warn once, silenced, up
# front; test_request_state_raises_no_warning shows the defect on its own.
HUB_REQUEST_KEYS = {"hub.token", "hub.party", "hub.outcome", "hub.trace_id", "hub.subject"}


async def _prime_request_keys(served: GatewayServed) -> None:
    if HUB_REQUEST_KEYS <= BaseRequest._seen_str_keys:
        return
    party = "street-jiyuqiao"
    token = served.token(party)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAppKeyWarning)
        for response in (
            await served.client.get("/v1/nope", headers=auth(token)),
            await post(served.client, "/v1/records/clue", record_for("clue", party), token),
        ):
            await response.read()


@dataclass
class GatewayHarness:
    """Settings, registry, serde and one served gateway on a broker."""

    bootstrap: str
    settings: HubSettings
    registry: EmbeddedRegistry
    serde: AvroSerde
    reference: Reference
    served: GatewayServed

    @property
    def client(self) -> TestClient[web.Request, web.Application]:
        return self.served.client

    def token(self, party: str) -> str:
        return self.served.token(party)

    @classmethod
    async def start(cls, bootstrap: str, data: Path, **changes: Any) -> GatewayHarness:
        settings = settings_for(bootstrap, data, **changes)
        registry = EmbeddedRegistry(settings)
        await registry.start()
        try:
            serde = AvroSerde(LocalRegistryClient(registry))
            reference = load_seed_reference()
            served = await serve(settings, reference, serde)
        except BaseException:
            await registry.stop()
            raise
        return cls(bootstrap, settings, registry, serde, reference, served)

    async def stop(self) -> None:
        try:
            await self.served.close()
        finally:
            await self.registry.stop()


def encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def auth(token: str | None, **headers: str) -> dict[str, str]:
    result = {"Content-Type": "application/json"}
    if token is not None:
        result["Authorization"] = f"Bearer {token}"
    result.update(headers)
    return result


async def post(
    client: TestClient[web.Request, web.Application],
    path: str,
    body: Any,
    token: str | None,
    **headers: str,
) -> ClientResponse:
    data = body if isinstance(body, bytes) else encode(body)
    return await client.post(path, data=data, headers=auth(token, **headers))


async def expect_problem(
    response: ClientResponse, status: int, slug: str, *headers: str
) -> dict[str, Any]:
    """Assert an RFC 9457 problem of this status and type; return its body."""
    text = await response.text()
    assert response.status == status, text[:1000]
    assert response.content_type == PROBLEM, (response.content_type, text[:1000])
    body: dict[str, Any] = json.loads(text)
    assert body["type"] == f"urn:wuchang-hub:problem:{slug}", body
    assert body["status"] == status
    for field in ("title", "title_zh", "detail"):
        assert isinstance(body[field], str) and body[field].strip(), (field, body)
    for header in headers:
        assert response.headers.get(header), (header, dict(response.headers))
    return body


Brokers = str | dict[str, Any]  # bootstrap servers, or a client's options (SecureCluster)


def client_options(brokers: Brokers) -> dict[str, Any]:
    return {"bootstrap_servers": brokers} if isinstance(brokers, str) else brokers


def consumer_for(bootstrap: Brokers) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(**client_options(bootstrap), group_id=None, enable_auto_commit=False)


async def end_offsets(bootstrap: Brokers, topic: str) -> dict[int, int]:
    consumer = consumer_for(bootstrap)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        ids = sorted(cluster.partitions_for_topic(topic) or [])
        assert ids, f"topic {topic} does not exist"
        partitions = [TopicPartition(topic, p) for p in ids]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_range(
    bootstrap: Brokers, topic: str, starts: dict[int, int], ends: dict[int, int]
) -> list[ConsumerRecord]:
    """Every message of topic from starts up to (not including) ends, per partition."""
    found: list[ConsumerRecord] = []
    wanted = {p: end for p, end in ends.items() if end > starts.get(p, 0)}
    if not wanted:
        return found
    consumer = consumer_for(bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in wanted]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, starts.get(tp.partition, 0))
        async with asyncio.timeout(20):
            while wanted:
                batch = await consumer.getmany(*partitions, timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset < wanted.get(tp.partition, -1):
                            found.append(record)
                    if records and records[-1].offset + 1 >= wanted.get(tp.partition, 0):
                        wanted.pop(tp.partition, None)
        return found
    finally:
        await consumer.stop()


# ---------------------------------------- helpers shared by the tests (from test_connectors.py)

def chromium_executable() -> str:
    """Debian's chromium, which Playwright drives through ``executable_path`` (no browser
    download); missing, it is an error that says how to install it, never a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is missing: `make system` installs it"
    return found


def header(record: ConsumerRecord, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value)
    return None


async def partitions_of(bootstrap: Brokers, topic: str) -> list[TopicPartition]:
    """Every partition of topic."""
    consumer = AIOKafkaConsumer(topic, **client_options(bootstrap), group_id=None)
    await consumer.start()
    try:
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    finally:
        await consumer.stop()


class TopicWatch:
    """Reads what is written to a topic after the watch was opened (all partitions)."""

    def __init__(self, bootstrap: Brokers, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: list[ConsumerRecord] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicWatch:
        consumer = consumer_for(self.bootstrap)
        await consumer.start()
        self._consumer = consumer
        partitions = await partitions_of(self.bootstrap, self.topic)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, ends[tp])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def read(self, seconds: float) -> list[ConsumerRecord]:
        """Read for seconds; everything read so far."""
        assert self._consumer is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                self.records.extend(messages)
        return self.records

    async def collect(
        self,
        count: int,
        predicate: Callable[[ConsumerRecord], bool] = lambda _: True,
        within: float = 30.0,
    ) -> list[ConsumerRecord]:
        """The records matching predicate, once there are at least count of them."""
        assert self._consumer is not None
        deadline = time.monotonic() + within
        while True:
            matched = [r for r in self.records if predicate(r)]
            if len(matched) >= count:
                return matched
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.topic}: {len(matched)} of {count} expected records after "
                    f"{within:.0f} s ({len(self.records)} read)"
                )
            batches = await self._consumer.getmany(timeout_ms=300)
            for messages in batches.values():
                self.records.extend(messages)


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the end offsets of topic for group, so a new sink sees only new records
    (the inbox topics are shared by every test of the session)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topic)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: ends[tp] for tp in partitions})
    finally:
        await consumer.stop()


def urban_case(case_no: str, street: str = "杨园街道", **changes: Any) -> dict[str, Any]:
    """A native 数字城管案件 (the sample of connectors/department/mappings/urban-case.yaml)."""
    record = {
        "案件编号": case_no,
        "上报时间": "2026-11-25 09:30:15",
        "案件来源": "监督员上报",
        "大类": "05",
        "小类": "02",
        "所属街道": street,
        "地址": "和平大道388号",
        "经度": "114.31",
        "纬度": "30.57",
        "问题描述": "商户店外经营占用人行道",
        "举报人": "",
        "联系电话": "",
    }
    record.update(changes)
    return record


def clue_id(case_no: str) -> str:
    """The record id the hub gives the clue of dept-urban's case case_no."""
    return str(derive_record_id("dept-urban", case_no))


def street_order(street: str, marker: str, n: int) -> Any:
    """A canonical ASSIGNMENT order from dept-urban to street."""
    return validate(
        "order",
        sample(
            "order",
            source_party="dept-urban",
            source_id=f"{marker}-{n:04d}",
            from_party="dept-urban",
            to_parties=[street],
            order_type="ASSIGNMENT",
            description=f"派单 {marker} #{n}",
        ),
    )


def order_event(street: str, order: Any, marker: str, n: int, event_type: str) -> Any:
    return validate(
        "order-event",
        sample(
            "order-event",
            source_party=street,
            actor_party=street,
            source_id=f"{marker}-ev-{n:04d}",
            order_id=str(order.order_id),
            event_type=event_type,
            reason=None,
        ),
    )


class Kit:
    """What every runner of the module shares: registry, serde, producer, specs, parties."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        producer: AIOKafkaProducer,
        catalogue: SpecCatalogue,
        parties: Registry,
    ) -> None:
        self.bootstrap = bootstrap
        self.serde = serde
        self.producer = producer
        self.catalogue = catalogue
        self.parties = parties

    async def write_inbox(self, party: str, records: Iterable[tuple[str, Any, bytes]]) -> None:
        """Write canonical (kind, record, key) into out.<party>.v1 as the hub does."""
        sent = []
        for kind, record, key in records:
            value = await self.serde.encode(kind, record)
            sent.append(
                await self.producer.send(
                    f"out.{party}.v1",
                    key=key,
                    value=value,
                    headers=[
                        ("hub.kind", kind.encode()),
                        ("hub.trace_id", str(record.trace_id).encode()),
                    ],
                )
            )
        await asyncio.gather(*sent)


@asynccontextmanager
async def open_kit(bootstrap: str | SecureCluster) -> AsyncIterator[Kit]:
    """A Kit on the broker at bootstrap, or on the secured cluster as hub-worker (embedded
    registry, idempotent producer)."""
    if isinstance(bootstrap, SecureCluster):
        settings = bootstrap.settings("hub-worker")
        options = bootstrap.client("hub-worker")
        bootstrap = bootstrap.bootstrap
    else:
        settings = HubSettings(kafka_bootstrap=bootstrap)
        options = {"bootstrap_servers": bootstrap}
    async with open_registry(settings) as registry:
        producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            yield Kit(
                bootstrap,
                AvroSerde(registry),
                producer,
                load_catalogue(),
                load_parties(settings.parties_file),
            )
        finally:
            await producer.stop()


class ConnectorHarness:
    """One test's connectors: unique names, state stores, runners and simulated parties,
    all stopped at the end (parties first reset, so no runner waits on a dead party)."""

    def __init__(self, kit: Kit, tag: str, tmp_path: Path) -> None:
        self.kit = kit
        self.tag = tag
        self.tmp_path = tmp_path
        self.settings = HubSettings(
            kafka_bootstrap=kit.bootstrap, app_id=f"t-{uuid.uuid4().hex[:12]}"
        )
        self.states: list[StateStore] = []
        self.runners: list[ConnectorRunner] = []
        self.parties: list[PartySimulator] = []

    def name(self, suffix: str = "") -> str:
        return f"{self.tag}{suffix}"[:60]

    async def party(self, **options: Any) -> PartySimulator:
        simulator = await PartySimulator(**options).start()
        self.parties.append(simulator)
        return simulator

    async def state(self) -> StateStore:
        store = StateStore(self.settings)
        await store.start()
        self.states.append(store)
        return store

    async def runner(self, config: Any, state: StateStore | None = None) -> ConnectorRunner:
        """A started runner of config (with a new state store unless given one)."""
        runner = ConnectorRunner(
            config,
            self.settings,
            state or await self.state(),
            ProducerEmitter(self.kit.producer),
            self.kit.serde,
            self.kit.catalogue,
            self.kit.parties,
        )
        self.runners.append(runner)
        runner.start()
        return runner

    async def stop(self, runner: ConnectorRunner) -> float:
        """Stop runner and its state store; the seconds it took."""
        began = time.monotonic()
        await runner.stop()
        took = time.monotonic() - began
        self.runners.remove(runner)
        if runner.state in self.states:
            await runner.state.stop()
            self.states.remove(runner.state)
        return took

    async def control(self, connector: str, paused: bool) -> None:
        """What `hub connectors pause|resume` writes."""
        store = await read_state(self.settings)
        try:
            await store.put(connector, "control", {"paused": paused, "at": time.time()})
        finally:
            await store.stop()

    async def stored_status(self, connector: str) -> dict[str, Any]:
        store = await read_state(self.settings)
        try:
            return dict(store.get(connector, "status") or {})
        finally:
            await store.stop()

    def secret_file(self, secret: bytes) -> str:
        path = self.tmp_path / f"{uuid.uuid4().hex[:8]}.secret"
        path.write_bytes(secret + b"\n")
        return str(path)

    def webhook(self, name: str, party: str, url: str, **options: Any) -> WebhookConnector:
        settings = {
            "backoff_initial_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "failures_to_open": 3,
            "open_seconds": 0.5,
            "timeout_seconds": 3,
            **options,
        }
        return WebhookConnector(type="webhook", name=name, party=party, url=url, **settings)

    def poll(self, name: str, party: str, url: str, native_kind: str, **options: Any) -> Any:
        options.setdefault("interval_seconds", 0.2)
        return PollConnector(
            type="http-poll", name=name, party=party, url=url, native_kind=native_kind, **options
        )

    def file_drop(
        self, name: str, party: str, directory: Path, native_kind: str, **options: Any
    ) -> FileDropConnector:
        options.setdefault("interval_seconds", 0.2)
        options.setdefault("settle_seconds", 0)
        return FileDropConnector(
            type="file-drop",
            name=name,
            party=party,
            directory=directory,
            native_kind=native_kind,
            **options,
        )

    def direct(self, name: str, party: str) -> KafkaConnector:
        return KafkaConnector(type="kafka", name=name, party=party)

    async def close(self) -> None:
        for simulator in self.parties:
            simulator.reset()
        for runner in list(self.runners):
            await runner.stop()
        for store in self.states:
            await store.stop()
        for simulator in self.parties:
            await simulator.stop()


# ---------------------------------------- helpers shared by the tests (from test_normalise.py)

HUB = str(ROOT / ".venv" / "bin" / "hub")


PARTIES = ("dept-urban", "street-jiyuqiao", "dept-water")


class Worker:
    """A running `hub worker`, tokens for some parties, and clients of the test."""

    def __init__(self, base: str, bootstrap: str, tokens: dict[str, str],
                 cluster: SecureCluster | None = None) -> None:
        self.base = base
        self.bootstrap = bootstrap
        self.tokens = tokens
        self.cluster = cluster
        self.http: aiohttp.ClientSession
        self.serde: AvroSerde
        self.producer: AIOKafkaProducer

    async def post_native(
        self,
        native_kind: str,
        body: bytes | dict[str, Any],
        party: str = "dept-urban",
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        async with self.http.post(
            f"{self.base}/v1/native/{native_kind}",
            data=data,
            headers={
                "Authorization": f"Bearer {self.tokens[party]}",
                "Content-Type": content_type,
            },
        ) as answer:
            return answer.status, await answer.json(content_type=None)

    def login(self, principal: str) -> Brokers:
        """Client options of principal on the secured cluster (the bootstrap on an open one)."""
        return self.bootstrap if self.cluster is None else self.cluster.client(principal)

    async def produce(
        self, topic: str, value: bytes, headers: list[tuple[str, bytes]], key: bytes | None
    ) -> None:
        await self.producer.send_and_wait(topic, key=key, value=value, headers=headers)


@contextmanager
def hub_worker(bootstrap: str | SecureCluster, data: Path, parties: Iterable[str] = PARTIES,
               ) -> Iterator[Worker]:
    """A `hub worker` on bootstrap, or on the secured cluster as hub-worker (reference
    loaded, tokens issued for parties), no connectors configured; stopped on exit."""
    port = free_port()
    cluster = bootstrap if isinstance(bootstrap, SecureCluster) else None
    if isinstance(bootstrap, SecureCluster):
        env = bootstrap.env("hub-worker", HUB_DATA_DIR=str(data), HUB_HTTP_PORT=str(port),
                            HUB_APP_ID=f"{SECURE_APP}-{port}", HUB_LOG_LEVEL="INFO")
        bootstrap = bootstrap.bootstrap
    else:
        env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": bootstrap,
            "HUB_DATA_DIR": str(data),
            "HUB_HTTP_PORT": str(port),
            "HUB_APP_ID": f"normalise-{port}",
        }
    env.pop("HUB_CONNECTORS_FILE", None)
    loaded = subprocess.run(
        [HUB, "reference", "load"], env=env, capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr
    tokens = issue_tokens(env, parties)
    with running_worker(env, data / "worker.log") as base:
        yield Worker(base, bootstrap, tokens, cluster)
