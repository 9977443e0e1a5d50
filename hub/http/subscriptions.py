"""``/v1/subscriptions``: subscriptions to shared datasets over HTTP (申请—审批—订阅, rule
四.四; docs/design.md §4).

A party requests a dataset (``POST /v1/subscriptions``); a party that may read it is
subscribed at once, any other waits for the dataset's owner, who approves (with an access
and an end) or refuses with a reason (``POST /v1/subscriptions/{id}/approve|refuse``);
the subscriber or the owner revokes it (``…/revoke``). Each action is checked against
the subscription as it stands (`hub.shared.advance`: 403, 404, 409 or 422 with its rule)
and written to ``data.subscription.v1``, where the subscriptions stage applies it and
tells the other side in its inbox (`hub.stages.subscribe`). Reads list and show the
subscriptions the caller is a party to. The subscriptions live on the worker that holds
their one partition; a request reaching another worker is forwarded there. Every request
is audited by the platform; every delivery by the stage.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.errors import FieldError
from hub.http.orders import not_ops
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.records import Accepted, Records
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.records import (
    KINDS,
    DatasetId,
    FieldName,
    ShortText,
    SubscriptionAction,
    SubscriptionEvent,
)
from hub.reference import Party
from hub.shared import DataCatalogue, Refusal, Subscription, SubscriptionState, advance


class SubscriptionBook(Protocol):
    """Where the subscriptions are (`hub.stages.Subscriptions`)."""

    def stored(self, subscription_id: str) -> Subscription | None: ...

    def all(self) -> list[Subscription]: ...

    def here(self) -> bool: ...

    async def settled(self) -> bool: ...


class SubscriptionRequest(BaseModel):
    """订阅申请 what a party asks for."""

    model_config = ConfigDict(extra="forbid")

    dataset: DatasetId = Field(description="a dataset id of GET /v1/catalogue")
    purpose: ShortText = Field(description="why (audited)")
    filter_field: FieldName | None = Field(
        default=None, description="only the records whose field (of the dataset) …"
    )
    filter_value: ShortText | None = Field(default=None, description="… has this value")
    expires_at: datetime | None = Field(
        default=None, description="when it should end (default a year; parties that may "
        "read the dataset only: the owner sets the end of the others)"
    )


class SubscriptionDecision(BaseModel):
    """审批 the owner's decision, or a revocation."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, min_length=1, max_length=2000,
        description="why: required to refuse, and for the owner to revoke",
    )
    access: Literal["full", "masked"] | None = Field(
        default=None, description="approve: how the subscriber reads it (default masked)"
    )
    expires_at: datetime | None = Field(
        default=None, description="approve: when it ends (default a year, at most three)"
    )


class SubscriptionAccepted(Accepted):
    """已受理 the action is written; state_after is where the subscription goes."""

    subscription_id: uuid.UUID
    state_after: SubscriptionState


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]


SUBSCRIPTION_ID = Param(
    "subscription_id", "path", {"type": "string", "format": "uuid"}, "the subscription's id"
)
ACCEPTED = Answer(202, "the action is written; state_after is where the subscription goes",
                  SubscriptionAccepted)
BODY_ANSWERS = (
    Answer(400, "body is not JSON"),
    Answer(413, "body too large"),
    Answer(415, "not application/json"),
    Answer(422, "validation errors (each field, rule and message)"),
)
ACTION_ANSWERS = (
    ACCEPTED,
    *BODY_ANSWERS,
    Answer(403, "not the caller's to take (the owner decides; either party revokes)"),
    Answer(404, "no such subscription, or not the caller's"),
    Answer(409, "the action does not fit the subscription's state"),
)

ROUTES = (
    Route(
        "POST", "/v1/subscriptions", "request", "request_subscription",
        "Request a subscription to a shared dataset (taken at once when the caller may "
        "read it; otherwise its owner decides)", "shared",
        (ACCEPTED, *BODY_ANSWERS), body=SubscriptionRequest,
    ),
    Route(
        "GET", "/v1/subscriptions", "list", "list_subscriptions",
        "The subscriptions the caller holds or decides on", "shared",
        (Answer(200, "subscriptions", SubscriptionList),
         Answer(422, "bad role or state")),
        params=(
            Param("role", "query", {"type": "string", "enum": ["subscriber", "approver"]}),
            Param("state", "query",
                  {"type": "string", "enum": [s.value for s in SubscriptionState]}),
        ),
    ),
    Route(
        "GET", "/v1/subscriptions/{subscription_id}", "show", "show_subscription",
        "A subscription, its state and history (its subscriber and owner only)", "shared",
        (Answer(200, "the subscription", Subscription),
         Answer(404, "no such subscription, or not the caller's")),
        params=(SUBSCRIPTION_ID,),
    ),
    *(
        Route(
            "POST", f"/v1/subscriptions/{{subscription_id}}/{verb}", "act",
            f"{verb}_subscription", summary, "shared", ACTION_ANSWERS,
            params=(SUBSCRIPTION_ID,), body=SubscriptionDecision,
        )
        for verb, summary in (
            ("approve", "The owner approves a requested subscription"),
            ("refuse", "The owner refuses a requested subscription, with a reason"),
            ("revoke", "The subscriber or the owner ends a subscription"),
        )
    ),
)

VERBS = {
    "approve": SubscriptionAction.APPROVED,
    "refuse": SubscriptionAction.REFUSED,
    "revoke": SubscriptionAction.REVOKED,
}
STATUS = {  # a refusal's rule → how it is answered
    "subscription.unknown": "not-found",
    "subscription.not_approver": "forbidden",
    "subscription.not_subscriber": "forbidden",
    "subscription.not_a_party": "forbidden",
    "subscription.exists": "conflict",
    "subscription.not_in_state": "conflict",
}
FIELD_OF = {  # … and which field a 422 names
    "subscription.dataset_unknown": "dataset",
    "subscription.filter_unknown": "filter_field",
    "subscription.reason_required": "reason",
    "subscription.ends_in_the_past": "expires_at",
    "subscription.too_long": "expires_at",
}


class Subscriptions:
    """Answers /v1/subscriptions from the subscriptions table (here or on its worker)."""

    def __init__(
        self,
        platform: Platform,
        records: Records,
        catalogue: DataCatalogue,
        book: SubscriptionBook,
        peers: Peers,
    ) -> None:
        self.platform = platform
        self.records = records
        self.catalogue = catalogue
        self.book = book
        self.peers = peers

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def _caller_here(self, request: web.Request) -> Party | web.Response:
        """The caller (never `ops`), on the worker holding the subscriptions; that
        worker's answer when another holds them."""
        owner = self.peers.owner("")
        if owner is not None:
            return await self.peers.forward(request, owner)
        if not self.book.here():
            raise Problem(
                "timeout", "the subscriptions are moving between workers; retry in a moment",
                detail_zh="订阅数据正在工作节点间迁移，请稍后重试", headers={"Retry-After": "2"},
            )
        party = self.platform.caller(request)
        not_ops(party)
        return party

    # ----------------------------------------------------------------- reads

    async def list(self, request: web.Request) -> web.Response:
        role, state = request.query.get("role"), request.query.get("state")
        if role not in (None, "subscriber", "approver") or state not in (
            None, *(s.value for s in SubscriptionState)
        ):
            raise Problem(
                "invalid-parameter",
                "role is subscriber or approver; state one of "
                + ", ".join(s.value for s in SubscriptionState),
                detail_zh="role应为subscriber或approver，state应为订阅状态之一",
            )
        party = await self._caller_here(request)
        if isinstance(party, web.Response):
            return party
        found = [
            s for s in self.book.all()
            if (role != "approver" and s.subscriber == party.id)
            or (role != "subscriber" and s.approver == party.id)
        ]
        found = [s for s in found if state is None or s.state.value == state]
        found.sort(key=lambda s: s.requested_at, reverse=True)
        return respond(SubscriptionList(subscriptions=[_shown(s) for s in found]))

    async def show(self, request: web.Request) -> web.Response:
        subscription_id = _id(request)
        party = await self._caller_here(request)
        if isinstance(party, web.Response):
            return party
        return respond(_shown(await self._theirs(subscription_id, party)))

    async def _theirs(self, subscription_id: str, party: Party) -> Subscription:
        subscription = self.book.stored(subscription_id)
        if subscription is None and not await self.book.settled():
            # a step written but not applied yet, maybe this very request's: its inbox
            # notice can arrive before the table has it (outputs, then state)
            raise Problem(
                "timeout", f"subscription {subscription_id} may still be being applied; retry",
                detail_zh=f"订阅{subscription_id}可能正在处理中，请稍后重试",
                headers={"Retry-After": "1"},
            )
        if subscription is None or party.id not in subscription.parties():
            raise Problem(  # not a party to it: as if it did not exist
                "not-found", f"no subscription {subscription_id}",
                detail_zh=f"没有订阅{subscription_id}",
            )
        return subscription

    # --------------------------------------------------------------- actions

    async def request(self, request: web.Request) -> web.Response:
        party = await self._caller_here(request)
        if isinstance(party, web.Response):
            return party
        body = await self.platform.read_model(request, SubscriptionRequest)
        subscription_id = str(uuid.uuid4())
        data = {
            "dataset": body.get("dataset"),
            "subscriber": party.id,
            "purpose": body.get("purpose"),
            "filter_field": body.get("filter_field"),
            "filter_value": body.get("filter_value"),
            "expires_at": body.get("expires_at"),
        }
        return await self._write(request, party, None, subscription_id,
                                 SubscriptionAction.REQUESTED, data)

    async def act(self, request: web.Request) -> web.Response:
        subscription_id = _id(request)
        party = await self._caller_here(request)
        if isinstance(party, web.Response):
            return party
        verb = request.path.rsplit("/", 1)[-1]
        current = await self._theirs(subscription_id, party)
        body = await self.platform.read_model(request, SubscriptionDecision)
        data = {
            "dataset": current.dataset,
            "subscriber": current.subscriber,
            "reason": body.get("reason"),
            "access": body.get("access"),
            "expires_at": body.get("expires_at"),
        }
        return await self._write(request, party, current, subscription_id, VERBS[verb], data)

    async def _write(
        self,
        request: web.Request,
        party: Party,
        current: Subscription | None,
        subscription_id: str,
        action: SubscriptionAction,
        fields: dict[str, Any],
    ) -> web.Response:
        kind = KINDS["subscription"]
        data = {
            "source_party": party.id,
            "source_id": f"http/{uuid.uuid4().hex}",
            "occurred_at": datetime.now(UTC).isoformat(),
            "subscription_id": subscription_id,
            "action": action.value,
            "actor_party": party.id,
            **{k: v for k, v in fields.items() if v is not None},
        }
        event, trace_id = self.records.check_record(request, kind, data)
        assert isinstance(event, SubscriptionEvent)  # noqa: S101
        outcome = advance(current, event, self.catalogue, party if current is None else
                          self.platform.reference().parties.get(event.subscriber))
        if isinstance(outcome, Refusal):
            raise _problem(outcome)
        (answer,) = await self.records.write(kind, [(event, trace_id)])
        if isinstance(answer, Exception):
            raise answer
        after = outcome or current
        assert after is not None  # noqa: S101 - a request always makes its subscription
        state = after.state
        return respond(SubscriptionAccepted(
            **answer.model_dump(exclude_unset=True),
            subscription_id=uuid.UUID(subscription_id), state_after=state,
        ), 202)


def _id(request: web.Request) -> str:
    raw = request.match_info["subscription_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise Problem(
            "not-found", f"no subscription {raw}", detail_zh=f"没有订阅{raw}",
        ) from None


def _shown(subscription: Subscription) -> Subscription:
    """A subscription as its parties see it: the delivery cursor is the hub's."""
    return subscription.model_copy(update={"cursor": {}})


def _problem(refusal: Refusal) -> Problem:
    slug = STATUS.get(refusal.rule)
    if slug is not None:
        return Problem(slug, refusal.message_en, detail_zh=refusal.message_zh,
                       extra={"rule": refusal.rule})
    return Problem(
        "invalid-record", refusal.message_en, detail_zh=refusal.message_zh,
        errors=[FieldError(FIELD_OF.get(refusal.rule, ""), refusal.rule,
                           refusal.message_zh, refusal.message_en)],
    )
