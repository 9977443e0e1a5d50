"""Order actions over HTTP: the dispatch engine's state machine given its HTTP face.

``GET /v1/orders/{order_id}`` shows an order's state and history to the parties on it;
``POST /v1/orders/{order_id}/events`` checks the action against the order's current
state (409 with the reason when it does not fit) and publishes the event;
``GET /v1/orders?role=issued|received&state=`` lists the caller's orders.

Every order event that enters over HTTP passes one admission, `Orders.admit`, whichever
address it was posted to (this one, ``/v1/records/order-event`` or a native kind that
maps to an order event): on the worker that owns the order's partition, the actor must
be on the order (404 otherwise, as if it did not exist) and the event must fit the
order's state (409 with the rule), counting the events this worker admitted that the
lifecycle stage has not applied yet, so a party may act twice in quick succession. The
state is checked only while the worker has applied everything written for the order's
partition (`OrderBook.settled`): with events in flight (written by another worker
before a rebalance, or just now) the view is not yet what comes next, and the event is
taken to be applied in order after them, as the stage decides (a misfit is parked with
its rule). An event for an order the hub has not seen yet is refused here (404) and
accepted on the records door, where it waits for its order (docs/design.md §4).

An order's view lives in the ``orders`` table on the worker that owns its partition.
A request reaching another worker is forwarded there once; the list is gathered from
every worker (`hub.http.peers`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from hub.dispatch import (
    Applied,
    Duplicate,
    OrderBook,
    OrderState,
    OrderView,
    Rejection,
    actions_for,
    apply_event,
    next_due,
    view_from_dict,
    view_to_dict,
)
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.policy import ACTION_FIELDS
from hub.http.problems import Problem, count_refusal
from hub.http.records import Accepted, Records
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.records import (
    KINDS,
    AssistanceDetail,
    EventType,
    Location,
    OrderEvent,
    ReferralDetail,
    TransferDetail,
)
from hub.reference import Party, PartyKind


class OrderSummary(BaseModel):
    """派单摘要 an order in a list: who, what, where it stands."""

    order_id: str
    order_type: str
    issuer: str
    recipients: list[str]
    matter_code: str
    state: OrderState
    issued_at: str
    deadline: str | None
    case_owner: str | None = Field(
        description="case transfers: who owns the case (the receiver once accepted)"
    )
    subject_id: str | None = Field(
        default=None, description="the case or clue the order is about"
    )
    next_due: str | None = Field(
        default=None, description="下一时限 the earliest deadline the order waits on now "
        "(null: none), what the workbench counts down to",
    )
    next_due_kind: Literal["sign-off", "answer", "acceptance"] | None = Field(
        default=None, description="which deadline next_due is: 签收, 反馈, 受理",
    )


class OrderList(BaseModel):
    orders: list[OrderSummary]


class Step(BaseModel):
    """办理记录 one applied event of an order's history (the hub's time: received_at)."""

    event_id: str
    event_type: str
    actor: str
    at: str
    state_after: OrderState
    reason: str | None = Field(default=None, description="理由 the reason given (a return, …)")
    comment: str | None = Field(default=None, description="说明 the actor's comment")
    rating: int | None = Field(default=None, ge=1, le=5, description="评价 the rating given")


class OrderDues(BaseModel):
    """办理时限 when sign-off, answer and acceptance are due (null: no such due)."""

    sign_off: str | None
    answer: str | None
    acceptance: str | None


class OrderDetail(OrderSummary):
    """派单详情 an order's whole story: summary, what is asked and where, priority,
    subject, returns, history, dues."""

    description: str | None = Field(
        default=None, description="派单内容 what is asked (null for orders kept before it was)"
    )
    location: Location | None = None
    referral: ReferralDetail | None = None
    transfer: TransferDetail | None = None
    assistance: AssistanceDetail | None = None
    received_at: str | None = Field(
        default=None, description="接收时间 when the hub received the order (clocks start)"
    )
    priority: str
    subject_id: str | None
    returns: int = Field(ge=0)
    history: list[Step]
    dues: OrderDues
    actions: list[EventType] = Field(
        default_factory=list,
        description="可办理操作 what the caller may do to the order now (POST …/events), "
        "in the state machine's order; empty when nothing",
    )


class AcceptedAction(Accepted):
    """已受理的办理操作 the event is written; state_after is where the order goes."""

    state_after: OrderState
    duplicate: bool = Field(description="the same action was applied before; nothing changes")


ORDER_ID = Param("order_id", "path", {"type": "string"}, "the order's id (its record_id)")
STATES = {"type": "string", "enum": [state.value for state in OrderState]}

ROUTES = (
    Route(
        "GET", "/v1/orders", "list_orders", "list_orders",
        "The orders the caller issued or received, or every order it is on about a case",
        "orders",
        (Answer(200, "orders", OrderList), Answer(422, "bad role, state or subject")),
        params=(
            Param("role", "query",
                  {"type": "string", "enum": ["issued", "received", "copied", "escalated"]},
                  "received (default): the caller is a recipient; issued: it issued them; "
                  "copied: it has a copy and no other part (the procuratorate's criminal "
                  "referrals, 抄送检察院); escalated: returned twice and escalated, for the "
                  "justice bureau to rule (审定; justice: all, others: the ones they are on)"),
            Param("state", "query", STATES),
            Param("subject", "query", {"type": "string", "format": "uuid"},
                  "a case's (or clue's) record_id: the orders about it that the caller is on "
                  "(issuer, recipient or copy; justice: all), whatever the role"),
        ),
    ),
    Route(
        "GET", "/v1/orders/{order_id}", "show_order", "show_order",
        "An order's state and history (parties on the order only)", "orders",
        (Answer(200, "the order", OrderDetail), Answer(404, "no such order, or not yours")),
        params=(ORDER_ID,),
    ),
    Route(
        "POST", "/v1/orders/{order_id}/events", "act_on_order", "act_on_order",
        "Act on an order (sign, report, answer, return, close, evaluate, ...)", "orders",
        (
            Answer(202, "the event is written; state_after is where the order goes",
                   AcceptedAction),
            Answer(400, "body is not JSON"),
            Answer(404, "no such order, or not yours"),
            Answer(409, "the action does not fit the order's state"),
            Answer(413, "body too large"),
            Answer(415, "not application/json"),
            Answer(422, "validation errors, hub-owned fields"),
        ),
        params=(ORDER_ID,),
        body="OrderAction",
    ),
)


def not_ops(party: Party) -> None:
    """Operators read metrics and DLQ metadata, never business data: 403."""
    if party.kind is PartyKind.OPS:
        raise Problem(
            "forbidden",
            "operators read metrics and DLQ metadata, not orders, cases or shared data",
            detail_zh="运维方只能查看指标和死信元数据，不能查看派单、案件和共享数据",
        )


PENDING_SECONDS = 120.0  # how long an admitted event counts before the stage applies it
# refusals that events still in flight may make wrong (the state moves on); a role or a
# party does not change but by an event the membership check has counted already
IN_FLIGHT_RULES = frozenset({"event.not_in_state", "event.order_final"})


@dataclass(frozen=True)
class Admitted:
    """An order event that fits its order (or whose order the hub has not seen yet)."""

    event: OrderEvent
    state_after: OrderState | None  # None: the order is not known yet
    duplicate: bool


class Orders:
    """Answers order actions from the dispatch engine's table (here or on its owner), and
    admits every order event that enters over HTTP (module docstring)."""

    def __init__(
        self, platform: Platform, records: Records, engine: OrderBook, peers: Peers
    ) -> None:
        self.platform = platform
        self.records = records
        self.engine = engine
        self.peers = peers
        # order_id -> events admitted here and not yet seen applied (time admitted, event)
        self._pending: dict[str, list[tuple[float, OrderEvent]]] = {}
        records.admission["order-event"] = self

    # -------------------------------------------------------------- admission

    async def admit(
        self, request: web.Request, event: OrderEvent, *, must_exist: bool
    ) -> web.Response | Admitted:
        """The one check of an order event (module docstring): the owner's answer when
        the order lives on another worker, `Admitted` when it fits, `Problem` if not."""
        order_id = str(event.order_id)
        owner = self.peers.owner(order_id)
        if owner is not None:
            return await self.peers.forward(request, owner)
        if event.event_type in (EventType.OVERDUE, EventType.ESCALATED):
            raise Problem(
                "forbidden",
                f"{event.event_type.value} is raised by the hub's timers, not over HTTP",
                detail_zh="超时和督办事件由枢纽发出",
            )
        view = self._member_view(order_id, event.actor_party)
        if view is None:
            if must_exist:
                raise _no_order(order_id)
            return Admitted(event, None, duplicate=False)  # waits for its order
        outcome = apply_event(view, event)
        if (
            isinstance(outcome, Rejection)
            and outcome.rule in IN_FLIGHT_RULES
            and not await self.engine.settled(order_id)
        ):
            # events in flight: the state is not yet what comes next; applied in order
            return Admitted(event, view.state, duplicate=False)
        if isinstance(outcome, Rejection):
            raise Problem(
                "conflict",
                outcome.message_en,
                detail_zh=outcome.message_zh,
                extra={"rule": outcome.rule, "state": view.state.value},
            )
        state = outcome.view.state if isinstance(outcome, Applied) else view.state
        return Admitted(event, state, duplicate=isinstance(outcome, Duplicate))

    def written(self, admitted: Admitted) -> None:
        """The admitted event is in Kafka: count it until the stage applied it."""
        if not admitted.duplicate:
            order_id = str(admitted.event.order_id)
            self._pending.setdefault(order_id, []).append((time.monotonic(), admitted.event))

    def _member_view(self, order_id: str, party: str) -> OrderView | None:
        """The order's view with the events admitted here and not applied yet; None when
        the hub has not seen the order; 404 when party is not on it (nor justice)."""
        stored = self.engine.stored(order_id)
        if stored is None:
            return None
        view = self._with_pending(view_from_dict(stored))
        if party not in view.parties and party != "justice":
            raise _no_order(order_id)  # not on the order: as if it did not exist
        return view

    def _with_pending(self, view: OrderView) -> OrderView:
        """view with the events admitted here that the stage has not applied yet."""
        horizon = time.monotonic() - PENDING_SECONDS
        waiting = [
            (at, event)
            for at, event in self._pending.get(view.order_id, [])
            if at >= horizon and str(event.event_id) not in view.applied
        ]
        if waiting:
            self._pending[view.order_id] = waiting
        else:
            self._pending.pop(view.order_id, None)
        for _, event in waiting:
            outcome = apply_event(view, event)
            if isinstance(outcome, Applied):
                view = outcome.view
        return view

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def _view(self, order_id: str, party: Party) -> OrderView:
        stored = self.engine.stored(order_id)
        if stored is None and not await self.engine.settled(order_id):
            # written, not applied yet (e.g. the order its issuer just posted): soon
            raise _in_flight(order_id)
        if stored is None:
            raise _no_order(order_id)
        view = view_from_dict(stored)
        if party.id not in view.parties and party.id != "justice":
            raise _no_order(order_id)  # not on the order: as if it did not exist
        return view

    @staticmethod
    def _order_id(request: web.Request) -> str:
        raw = request.match_info["order_id"]
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise Problem(
                "not-found", f"'{raw}' is not an order id", detail_zh=f"{raw}不是派单编号"
            ) from None

    # --------------------------------------------------------------- handlers

    async def show_order(self, request: web.Request) -> web.Response:
        order_id = self._order_id(request)
        owner = self.peers.owner(order_id)
        if owner is not None:
            return await self.peers.forward(request, owner)
        party = self.platform.caller(request)
        not_ops(party)
        view = await self._view(order_id, party)
        dues = self.engine.dues(view)
        rendered = _render(view)
        order = (self.engine.stored(order_id) or {}).get("order") or {}
        for name in ("description", "location", "referral", "transfer", "assistance"):
            if order.get(name) is not None:
                rendered[name] = order[name]
        rendered["received_at"] = rendered.pop("received", None)
        rendered["actions"] = actions_for(view, party.id)
        rendered["dues"] = {
            name: (moment.isoformat() if moment is not None else None)
            for name, moment in (
                ("sign_off", dues.sign_off),
                ("answer", dues.answer),
                ("acceptance", dues.acceptance),
            )
        }
        return respond(OrderDetail.model_validate(rendered))

    async def act_on_order(self, request: web.Request) -> web.Response:
        order_id = self._order_id(request)
        owner = self.peers.owner(order_id)
        if owner is not None:
            return await self.peers.forward(request, owner)
        party = self.platform.caller(request)
        not_ops(party)
        # the order first, then the body: a stranger learns nothing from the validation
        view = self._member_view(order_id, party.id)
        if view is None:
            if not await self.engine.settled(order_id):
                raise _in_flight(order_id)  # written, not applied yet: soon
            raise _no_order(order_id)
        body = await self.platform.read_json(request)
        if not isinstance(body, dict):
            raise Problem(
                "invalid-record",
                "send a JSON object with event_type and its fields",
                detail_zh="请求体应为含event_type等字段的JSON对象",
            )
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
            event, trace_id = self.records.check_record(request, kind, data)
        except Problem as refused:  # an event that breaks a rule is a refused record
            count_refusal(refused)
            raise
        assert isinstance(event, OrderEvent)  # noqa: S101
        earlier = self.records.earlier(kind, event, timed="occurred_at" in body)
        if earlier is not None:  # sent before: answered as then, nothing written again
            return respond(AcceptedAction(
                **earlier.model_dump(exclude_unset=True), state_after=view.state, duplicate=True
            ), 202)
        admitted = await self.admit(request, event, must_exist=True)
        if isinstance(admitted, web.Response):
            return admitted  # pragma: no cover - the owner was asked before the body was read
        (answer,) = await self.records.write(kind, [(event, trace_id)])
        if isinstance(answer, Exception):
            raise answer
        self.written(admitted)
        accepted = AcceptedAction(
            **answer.model_dump(exclude_unset=True),
            state_after=admitted.state_after or view.state,
            duplicate=admitted.duplicate,
        )
        return respond(accepted, 202)

    async def list_orders(self, request: web.Request) -> web.Response:
        party = self.platform.caller(request)
        not_ops(party)
        role = request.query.get("role", "received")
        if role not in ("issued", "received", "copied", "escalated"):
            raise Problem(
                "invalid-parameter",
                "role must be issued, received, copied or escalated",
                detail_zh="role应为issued（我派出的）、received（我收到的）、copied（抄送我的）"
                "或escalated（提请审定的）",
            )
        wanted = request.query.get("state")
        if wanted is not None and wanted not in OrderState.__members__:
            raise Problem(
                "invalid-parameter",
                f"state must be one of {', '.join(OrderState)}",
                detail_zh="state应为派单状态之一（如ISSUED、SIGNED）",
            )
        subject = request.query.get("subject")
        if subject is not None:
            try:
                subject = str(uuid.UUID(subject))
            except ValueError:
                raise Problem(
                    "invalid-parameter",
                    "subject must be a case's or clue's record_id (a UUID)",
                    detail_zh="subject应为案件或线索的记录编号（UUID）",
                ) from None
        if subject is not None and not self.peers.forwarded(request):
            found = await self.about(request, subject)
            if wanted is not None:
                found = [o for o in found if o["state"] == wanted]
            return respond(OrderList.model_validate({"orders": found}))
        orders = []
        for view in self.engine.active_views():
            if subject is not None:
                mine = view.subject_id == subject and (
                    party.id in view.parties or party.id == "justice"
                )
            elif role == "issued":
                mine = view.issuer == party.id
            elif role == "copied":
                mine = (party.id in view.parties and party.id != view.issuer
                        and party.id not in view.recipients)
            elif role == "escalated":
                mine = (party.id in view.parties or party.id == "justice") and any(
                    step.event_type is EventType.ESCALATED for step in view.history)
            else:
                mine = party.id in view.recipients
            if mine and (wanted is None or view.state.value == wanted):
                orders.append(self._summary(view))
        if not self.peers.forwarded(request):
            answers = await self.peers.gather(request, "/v1/orders")
            orders += [order for answer in answers for order in answer["orders"]]
        orders.sort(key=lambda o: o["issued_at"])
        return respond(OrderList.model_validate({"orders": orders}))

    def _summary(self, view: OrderView) -> dict[str, Any]:
        """An order in a list, with the deadline it waits on next."""
        full = view_to_dict(view)
        summary = {name: full[name] for name in SUMMARY_FIELDS}
        due = next_due(view, self.engine.dues(view))
        if due is not None:
            summary["next_due"] = due.due.isoformat()
            summary["next_due_kind"] = due.which
        return summary

    async def about(self, request: web.Request, subject_id: str) -> list[dict[str, Any]]:
        """The summaries of the orders about subject_id that the caller is on (justice:
        all), from every worker: what ``GET /v1/orders?subject=`` answers."""
        party = self.platform.caller(request)
        found = [
            self._summary(view) for view in self.engine.active_views()
            if view.subject_id == subject_id
            and (party.id in view.parties or party.id == "justice")
        ]
        for answer in await self.peers.gather(request, "/v1/orders", {"subject": subject_id}):
            found += answer["orders"]
        found.sort(key=lambda o: o["issued_at"])
        return found


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
    "subject_id",
)


def _in_flight(order_id: str) -> Problem:
    """503: the order may be written and not applied yet; ask again in a moment."""
    return Problem(
        "timeout", f"order {order_id} may still be being applied; retry",
        detail_zh=f"派单{order_id}可能正在处理中，请稍后重试",
        headers={"Retry-After": "1"},
    )


def _no_order(order_id: str) -> Problem:
    return Problem("not-found", f"no order {order_id}", detail_zh=f"没有编号为{order_id}的派单")


def _render(view: OrderView) -> dict[str, Any]:
    full = view_to_dict(view)
    full.pop("applied", None)
    return full
