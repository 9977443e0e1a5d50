"""Order actions over HTTP: the dispatch engine's state machine given its HTTP face.

``GET /v1/orders/{order_id}`` shows an order's state and history to the parties on it;
``POST /v1/orders/{order_id}/events`` checks the action against the order's current
state (409 with the reason when it does not fit) and publishes the event;
``GET /v1/orders?role=issued|received&state=`` lists the caller's orders;
``GET /v1/assessment?period=YYYY-MM`` gives the month's two-way assessment 双向考核
(the justice bureau sees every party, a party only itself).

An order's view lives in the ``orders`` table on the worker that owns its partition.
A request reaching another worker is forwarded there once (``X-Hub-Forwarded``); the
list is gathered from every worker.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from yarl import URL

from hub.dispatch import (
    Applied,
    Duplicate,
    OrderState,
    OrderView,
    Rejection,
    apply_event,
    assessment_report,
    merge_assessment,
    period_of,
    view_from_dict,
    view_to_dict,
)
from hub.gateway._policy import ACTION_FIELDS
from hub.gateway._problems import Problem, count_refusal
from hub.records import KINDS, EventType, OrderEvent
from hub.reference import Party, PartyKind

if TYPE_CHECKING:
    from hub.dispatch import DispatchEngine
    from hub.gateway._app import Gateway

FORWARDED = "X-Hub-Forwarded"
_PERIOD = re.compile(r"20\d\d-(0[1-9]|1[0-2])")


class OrderDesk:
    """Answers order actions from the dispatch engine's table (here or on its owner)."""

    def __init__(self, gateway: Gateway, engine: DispatchEngine, advertised: str) -> None:
        self.gateway = gateway
        self.engine = engine
        self.advertised = URL(advertised)
        self._session: aiohttp.ClientSession | None = None

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v1/orders", self.list_orders)
        app.router.add_get("/v1/orders/{order_id}", self.show_order)
        app.router.add_post("/v1/orders/{order_id}/events", self.act_on_order)
        app.router.add_get("/v1/assessment", self.assessment)
        app.on_cleanup.append(self._close)

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    # ---------------------------------------------------------------- routing

    def _owner(self, order_id: str) -> URL | None:
        """URL of the worker owning the order's partition; None when it is this one."""
        try:
            owner = self.engine.owner_of(order_id)
        except (KeyError, ValueError, AttributeError):
            return None
        if owner is None or (owner.host, owner.port) == (
            self.advertised.host,
            self.advertised.port,
        ):
            return None
        return owner

    async def _forward(self, request: web.Request, owner: URL) -> web.Response:
        if request.headers.get(FORWARDED):
            raise Problem(
                "timeout",
                "the order's partition is moving between workers; retry in a moment",
                headers={"Retry-After": "2"},
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        headers[FORWARDED] = "1"
        target = owner.with_path(request.path).with_query(request.query)
        async with self._session.request(
            request.method, target, headers=headers, data=await request.read()
        ) as answer:
            body = await answer.read()
            return web.Response(
                status=answer.status,
                body=body,
                content_type=answer.content_type,
                headers={
                    k: v
                    for k, v in answer.headers.items()
                    if k in ("Retry-After", "WWW-Authenticate")
                },
            )

    @staticmethod
    def _not_ops(party: Party) -> None:
        if party.kind is PartyKind.OPS:
            raise Problem(
                "forbidden",
                "operators read metrics and DLQ metadata, not orders",
                detail_zh="运维方只能查看指标和死信元数据，不能查看派单",
            )

    def _view(self, order_id: str, party: Party) -> OrderView:
        stored = self.engine.table.get(order_id)
        if stored is None:
            raise Problem(
                "not-found", f"no order {order_id}", detail_zh=f"没有编号为{order_id}的派单"
            )
        view = view_from_dict(stored)
        if party.id not in view.parties and party.id != "justice":
            # Not on the order: answer as if it did not exist, so ids leak nothing.
            raise Problem(
                "not-found", f"no order {order_id}", detail_zh=f"没有编号为{order_id}的派单"
            )
        return view

    @staticmethod
    def _order_id(request: web.Request) -> str:
        raw = request.match_info["order_id"]
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise Problem("not-found", f"'{raw}' is not an order id") from None

    # --------------------------------------------------------------- handlers

    async def show_order(self, request: web.Request) -> web.Response:
        order_id = self._order_id(request)
        owner = self._owner(order_id)
        if owner is not None:
            return await self._forward(request, owner)
        party = self.gateway.party_of(request)
        self._not_ops(party)
        view = self._view(order_id, party)
        dues = self.engine.dues(view)
        rendered = _render(view)
        rendered["dues"] = {
            name: (moment.isoformat() if moment is not None else None)
            for name, moment in (
                ("sign_off", dues.sign_off),
                ("answer", dues.answer),
                ("acceptance", dues.acceptance),
            )
        }
        return web.json_response(rendered)

    async def act_on_order(self, request: web.Request) -> web.Response:
        order_id = self._order_id(request)
        owner = self._owner(order_id)
        if owner is not None:
            return await self._forward(request, owner)
        party = self.gateway.party_of(request)
        self._not_ops(party)
        view = self._view(order_id, party)  # the order first: unknown to the caller is 404
        body = await self.gateway.read_json(request)
        if not isinstance(body, dict):
            raise Problem("invalid-record", "send a JSON object with event_type and its fields")
        unknown = sorted(set(body) - set(ACTION_FIELDS))
        if unknown:
            raise Problem(
                "hub-owned-field",
                f"remove {', '.join(unknown)}: the hub fills the order, the party and the ids",
                detail_zh="派单编号、操作方和记录编号由枢纽填写",
            )
        data = {  # defaults for what the body leaves out; the body as sent; what the hub fills
            "source_id": f"http/{uuid.uuid4().hex}",
            "occurred_at": datetime.now(UTC).isoformat(),
            **body,
            "source_party": party.id,
            "order_id": order_id,
            "actor_party": party.id,
        }
        kind = KINDS["order-event"]
        try:
            event, trace_id = self.gateway.check_record(request, kind, data)
        except Problem as refused:  # an event that breaks a rule is a refused record
            count_refusal(refused)
            raise
        assert isinstance(event, OrderEvent)  # noqa: S101
        if event.event_type in (EventType.OVERDUE, EventType.ESCALATED):
            raise Problem(
                "forbidden",
                f"{event.event_type.value} is raised by the hub's timers, not over HTTP",
                detail_zh="超时和督办事件由枢纽发出",
            )
        outcome = apply_event(view, event)
        if isinstance(outcome, Rejection):
            raise Problem(
                "conflict",
                outcome.message_en,
                detail_zh=outcome.message_zh,
                extra={"rule": outcome.rule, "state": view.state.value},
            )
        (answer,) = await self.gateway.write(kind, [(event, trace_id)])
        if isinstance(answer, Exception):
            raise answer
        state = outcome.view.state if isinstance(outcome, Applied) else view.state
        return web.json_response(
            {**answer, "state_after": state.value, "duplicate": isinstance(outcome, Duplicate)},
            status=202,
        )

    async def list_orders(self, request: web.Request) -> web.Response:
        party = self.gateway.party_of(request)
        self._not_ops(party)
        role = request.query.get("role", "received")
        if role not in ("issued", "received"):
            raise Problem(
                "invalid-parameter",
                "role must be issued or received",
                detail_zh="role应为issued（我派出的）或received（我收到的）",
            )
        wanted = request.query.get("state")
        if wanted is not None and wanted not in OrderState.__members__:
            raise Problem(
                "invalid-parameter",
                f"state must be one of {', '.join(OrderState)}",
                detail_zh="state应为派单状态之一（如ISSUED、SIGNED）",
            )
        orders = []
        for view in self.engine.active_views():
            mine = view.issuer == party.id if role == "issued" else party.id in view.recipients
            if mine and (wanted is None or view.state.value == wanted):
                orders.append(_summary(view))
        if not request.headers.get(FORWARDED):
            orders += await self._gather(request)
        orders.sort(key=lambda o: o["issued_at"])
        return web.json_response({"orders": orders})

    async def assessment(self, request: web.Request) -> web.Response:
        """The month's assessment: every party for justice, the caller's own otherwise."""
        party = self.gateway.party_of(request)
        self._not_ops(party)
        period = request.query.get("period")  # absent: this month; empty: not a month
        if period is None:
            period = period_of(datetime.now(UTC))
        if not _PERIOD.fullmatch(period):
            raise Problem(
                "invalid-parameter",
                f"period '{period}' is not a month; write YYYY-MM, e.g. 2026-11",
                detail_zh="考核期间应为年月，格式YYYY-MM",
            )
        shares = self.engine.assessment_shares(period)
        if party.id != "justice":
            shares = {party.id: shares.get(party.id, [])}
        if request.headers.get(FORWARDED):  # a peer gathering: this worker's raw shares
            return web.json_response({"period": period, "shares": shares})
        for answer in await self._gather_json(request, "/v1/assessment"):
            for name, more in answer["shares"].items():
                shares.setdefault(name, []).extend(more)
        if party.id != "justice":
            shares = {party.id: shares.get(party.id, [])}
        parties = [
            assessment_report(name, period, merge_assessment(shares[name]))
            for name in sorted(shares)
        ]
        return web.json_response({"period": period, "parties": parties})

    async def _gather(self, request: web.Request) -> list[dict[str, Any]]:
        answers = await self._gather_json(request, "/v1/orders")
        return [order for answer in answers for order in answer["orders"]]

    async def _gather_json(self, request: web.Request, path: str) -> list[dict[str, Any]]:
        """Ask every other worker the same question (marked forwarded) and collect."""
        peers = [
            url
            for url in self.engine.worker_urls()
            if (url.host, url.port) != (self.advertised.host, self.advertised.port)
        ]
        if not peers:
            return []
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        session = self._session
        headers = {"Authorization": request.headers.get("Authorization", ""), FORWARDED: "1"}

        async def ask(peer: URL) -> dict[str, Any]:
            async with session.get(
                peer.with_path(path).with_query(request.query), headers=headers
            ) as answer:
                if answer.status != 200:
                    raise Problem(
                        "timeout",
                        f"worker {peer} did not answer; retry",
                        headers={"Retry-After": "2"},
                    )
                return dict(await answer.json())

        return list(await asyncio.gather(*(ask(peer) for peer in peers)))


SUMMARY_FIELDS = (
    "order_id",
    "order_type",
    "issuer",
    "recipients",
    "matter_code",
    "state",
    "issued_at",
    "deadline",
    "case_owner",
)


def _summary(view: OrderView) -> dict[str, Any]:
    full = view_to_dict(view)
    return {name: full[name] for name in SUMMARY_FIELDS}


def _render(view: OrderView) -> dict[str, Any]:
    full = view_to_dict(view)
    full.pop("applied", None)
    return full
