"""Unit-test fixtures: every test starts from an environment without HUB_* variables;
`serve` / `served` give the worker's HTTP side broker-free (`hub.wire.MemoryBroker`),
with every answer checked against the OpenAPI document."""

from __future__ import annotations

import itertools
import json as json_module
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from hub.dispatch import (
    Deadlines,
    Dues,
    OrderView,
    PartySla,
    load_deadline_policy,
    load_enforcement_periods,
    load_supervision,
    missed_deadlines,
    open_order,
    view_from_dict,
)
from hub.dispatch._metrics import order_sla
from hub.http import (
    Assessment,
    Cases,
    Core,
    Native,
    Ops,
    Orders,
    Peers,
    Shared,
    Subscriptions,
    TokenStore,
    openapi_document,
)
from hub.mapping import load_catalogue
from hub.records import DispatchOrder, OrderEvent, validate
from hub.reference import (
    BEIJING,
    REFERENCE_DIR,
    Matter,
    Reference,
    load_calendar,
    load_seed_reference,
)
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.shared import SharedView, Subscription, load_datasets
from hub.wire import MemoryBroker
from hub.worker._http import build_web_app
from tests.samples import sample


@pytest.fixture(autouse=True)
def _clean_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop HUB_* variables of the calling shell so defaults and errors are deterministic."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


# ------------------------------------------------ the HTTP side, served broker-free


@dataclass
class Book:
    """A fake order book (`hub.http.orders.OrderBook`): the views this 'worker' holds, and
    its assessment shares."""

    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    shares: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    in_flight: set[str] = field(default_factory=set)  # orders with events not applied yet

    def stored(self, order_id: str) -> dict[str, Any] | None:
        return self.views.get(order_id)

    async def settled(self, order_id: str) -> bool:
        return order_id not in self.in_flight

    def dues(self, view: OrderView) -> Dues:
        return Dues(sign_off=datetime(2026, 12, 2, 12, 0, tzinfo=UTC))

    def active_views(self) -> list[OrderView]:
        return [view_from_dict(stored) for stored in self.views.values()]

    def sla(self, now: datetime) -> dict[str, PartySla]:
        return order_sla(self.active_views(), self.dues, now)

    def due(self, now: datetime) -> list[OrderView]:
        return [v for v in self.active_views() if missed_deadlines(v, now, self.dues(v))]

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        return self.shares


@dataclass
class Shelf:
    """A fake case book (`hub.dispatch.CaseBook`): the cases this 'worker' holds, kept as
    the cases stage keeps them."""

    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # cases with records not applied yet

    def stored(self, case_id: str) -> dict[str, Any] | None:
        return self.cases.get(case_id)

    def active_cases(self) -> list[dict[str, Any]]:
        return list(self.cases.values())

    async def settled(self, case_id: str) -> bool:
        return case_id not in self.in_flight

    def keep(self, *revisions: Any) -> str:
        """Keep the revisions of one case (EnforcementCase records) as the stage does."""
        case_id = str(revisions[0].record_id)
        self.cases[case_id] = {
            "revisions": [
                {"revision": r.revision, "status": r.status.value, "digest": "",
                 "received_at": r.received_at.isoformat()}
                for r in revisions
            ],
            "current": revisions[-1].model_dump(mode="json"),
            "partition": 0,
        }
        return case_id


@dataclass
class Ledger:
    """A fake subscription book (`hub.http.subscriptions.SubscriptionBook`): the
    subscriptions this 'worker' holds."""

    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    held: bool = True
    in_flight: bool = False  # steps written that the stage has not applied yet

    def stored(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    def all(self) -> list[Subscription]:
        return list(self.subscriptions.values())

    def here(self) -> bool:
        return self.held

    async def settled(self) -> bool:
        return not self.in_flight


@dataclass
class Answered:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass
class Served:
    """A worker's HTTP side on a real socket, a `MemoryBroker` for Kafka and a fake order
    book; every answer is checked against the served OpenAPI document (its status is
    documented for the route, its body matches the documented schema) and recorded."""

    client: TestClient[web.Request, web.Application]
    broker: MemoryBroker
    book: Book
    shelf: Shelf
    shared: SharedView  # not reading Kafka: tests put records in and set it ready
    ledger: Ledger
    metrics: CollectorRegistry
    readiness: dict[str, str | None]  # each /readyz check's answer: None when fine
    serde: AvroSerde
    tokens: dict[str, str]
    document: dict[str, Any]
    token_store: TokenStore
    answered: list[tuple[str, str, int]] = field(default_factory=list)

    def auth(self, party: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"} if party else {}

    async def call(
        self, method: str, path: str, party: str | None, *, json: Any = None,
        data: bytes | str | None = None, headers: dict[str, str] | None = None,
    ) -> Answered:
        sent = {**self.auth(party), **(headers or {})}
        response = await self.client.request(method, path, json=json, data=data, headers=sent)
        text = await response.text()
        body: Any = text
        if response.content_type in ("application/json", "application/problem+json"):
            body = json_module.loads(text)
        self._check(method, path, response.status, response.content_type, body)
        return Answered(response.status, body, response.headers)

    async def stream(self, path: str, party: str | None) -> Answered:
        """Open an event stream, check its answer, close it."""
        response = await self.client.get(path, headers=self.auth(party))
        response.close()
        self._check("GET", path, response.status, response.content_type, "")
        return Answered(response.status, "", response.headers)

    async def post(self, path: str, party: str | None, body: Any) -> tuple[int, Any]:
        answered = await self.call("POST", path, party, json=body)
        return answered.status, answered.body

    async def get(self, path: str, party: str | None) -> tuple[int, Any]:
        answered = await self.call("GET", path, party)
        return answered.status, answered.body

    def _check(self, method: str, path: str, status: int, media: str, body: Any) -> None:
        template = route_of(self.document, path.split("?")[0])
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"]
        assert str(status) in documented, f"{method} {template} answered {status}: {body}"
        self.answered.append((method, template, status))
        content = documented[str(status)].get("content", {})
        if status == 204:  # no content: none documented, none sent
            assert not content and body == "", f"{method} {template} 204 with {body!r}"
            return
        assert media in content, f"{method} {template} {status} answered {media}"
        schema = content[media]["schema"]
        if media.endswith("json"):
            validator = jsonschema_rs.Draft202012Validator(
                {**schema, "components": self.document["components"]}
            )
            errors = [str(e) for e in validator.iter_errors(body)]
            assert not errors, f"{method} {template} {status}: {errors[:3]} in {body}"


def route_of(document: dict[str, Any], path: str) -> str:
    """The documented path template path matches."""
    for template in document["paths"]:
        parts = ["[^/]+" if p.startswith("{") else re.escape(p) for p in template.split("/")]
        if re.fullmatch("/".join(parts), path):
            return template
    raise AssertionError(f"{path} is not a documented route")


PARTIES = ("street-jiyuqiao", "dept-urban", "justice", "ops", "police", "bigdata", "procuratorate",
           "finance")


@pytest_asyncio.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Serve the HTTP side with settings changed as asked; stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(
            peers: Callable[[], list[Any]] = list,
            owner: Callable[[str], Any] = lambda _: None,
            **changes: Any,
        ) -> Served:
            """peers: the other workers' URLs (none: this worker holds everything); owner:
            the URL of the worker owning an order (None: this one)."""
            data = tmp_path / f"served-{len(changes)}-{uuid.uuid4().hex[:6]}"
            settings = HubSettings(data_dir=data, **{"gateway_batch_limit": 3, **changes})
            reference: Reference = load_seed_reference()
            serde = AvroSerde(MemoryRegistry())
            broker = MemoryBroker()
            store = TokenStore(settings.tokens_path)
            tokens = {party: store.issue(party)[0] for party in PARTIES}
            app = build_web_app(settings.gateway_body_limit)  # the worker's, with /healthz
            core = Core.install(
                app, settings, lambda: reference, serde, publisher=broker, reader=broker
            )
            book = Book()
            cluster = Peers("http://127.0.0.1:1", owner, peers)
            Native(core.platform, core.records, load_catalogue()).install(app)
            orders = Orders(core.platform, core.records, book, cluster)
            orders.install(app)
            Assessment(core.platform, [book], cluster).install(app)
            shelf = Shelf()
            case_cluster = Peers("http://127.0.0.1:1", owner, peers)
            Cases(core.platform, core.records, shelf, case_cluster, lambda: reference,
                  load_supervision(), load_enforcement_periods(settings.enforcement_file),
                  orders.about).install(app)
            shared = SharedView(settings, serde, load_datasets(settings.datasets_file))
            stack.push_async_callback(shared.stop)  # closes its store
            Shared(core.platform, shared.catalogue, shared).install(app)
            ledger = Ledger()
            Subscriptions(core.platform, core.records, shared.catalogue, ledger,
                          Peers("http://127.0.0.1:1", owner, peers)).install(app)
            metrics = CollectorRegistry()
            readiness: dict[str, str | None] = {"kafka": None, "partitions": None}

            def check(name: str) -> Callable[[], Awaitable[str | None]]:
                async def answer() -> str | None:
                    return readiness[name]

                return answer

            Ops(core.platform, metrics, {name: check(name) for name in readiness}).install(app)
            client = await stack.enter_async_context(TestClient(TestServer(app)))
            document = openapi_document(None, reference)
            return Served(
                client, broker, book, shelf, shared, ledger, metrics, readiness, serde, tokens,
                document, store,
            )

        yield start


@pytest_asyncio.fixture
async def served(serve: Callable[..., Awaitable[Served]]) -> Served:
    return await serve()


# ------------------------------------------------ orders as the dispatch core sees them

CALENDAR = load_calendar(REFERENCE_DIR / "calendar.yaml")
POLICY = load_deadline_policy(REFERENCE_DIR / "deadlines.yaml")
DEADLINES = Deadlines(POLICY, CALENDAR)
MATTER: Matter = replace(load_seed_reference().matters["URB-001"], sign_off_hours=4)
ISSUED = datetime(2026, 11, 25, 9, 30, tzinfo=BEIJING)  # the sample order's issued_at (a Wednesday)
_counter = itertools.count()


def order(order_type: str = "WHISTLE", *, drop: tuple[str, ...] = (), **changes: Any) -> OrderView:
    data = sample("order", source_id=f"ORD-{next(_counter)}", order_type=order_type, **changes)
    data.setdefault("received_at", data["issued_at"])  # the hub received it as it was issued
    for key in drop:
        data.pop(key)
    if order_type == "CRIMINAL_REFERRAL":
        data.update(
            to_parties=["police"],
            referral={"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录"]},
        )
    if order_type == "CASE_TRANSFER":
        transfer = {"stop_order_issued": True, "reason": "属部门职权", "materials": ["案卷"]}
        data["transfer"] = transfer
    record = validate("order", data)
    assert isinstance(record, DispatchOrder)
    return open_order(record)


def event(
    view: OrderView, event_type: str, actor: str, at: datetime | None = None, **extra: Any
) -> OrderEvent:
    occurred = at or ISSUED + timedelta(minutes=len(view.history) + 1)
    data = {
        "source_party": actor,
        "source_id": f"EV-{next(_counter)}",
        "occurred_at": occurred.isoformat(),
        "received_at": occurred.isoformat(),  # the hub's clock decides on-time counts
        "order_id": view.order_id,
        "event_type": event_type,
        "actor_party": actor,
        **extra,
    }
    if event_type == "RETURNED":
        data.setdefault("reason", "理由")
    record = validate("order-event", data)
    assert isinstance(record, OrderEvent)
    return record
