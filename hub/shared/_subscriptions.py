"""Subscriptions to shared datasets (申请—审批—订阅, rule 四.四; docs/design.md §4): what a
subscription is, and the one function that moves it, used alike by the stage that owns
the subscriptions (`hub.stages.subscribe`) and by the HTTP side that checks an action
before writing it (`hub.http.subscriptions`).

A party requests a dataset of the catalogue, optionally only the records whose field has
a value (its own street's, one holder's). A party that may read the dataset without
asking (`Dataset.readers`) is subscribed at once with its access; any other waits for
the dataset's owner, who approves (with an access, full or masked, and an end) or refuses
with a reason. An active subscription receives a snapshot of the dataset, then every
change, in its inbox; the subscriber or the owner revokes it, and the hub ends it when
its end has passed. A step applies once by its event id: the same event again changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from hub.records import SubscriptionAction, SubscriptionEvent
from hub.reference import Party
from hub.shared._catalogue import Access, DataCatalogue, Dataset

DEFAULT_DAYS = 365
MAX_DAYS = 3 * 365
HISTORY_LIMIT = 50  # steps kept on a subscription (deliveries are counted, not kept)


class SubscriptionState(StrEnum):
    PENDING = "PENDING"  # 待审批
    ACTIVE = "ACTIVE"  # 已订阅
    REFUSED = "REFUSED"  # 已拒绝
    REVOKED = "REVOKED"  # 已撤销
    EXPIRED = "EXPIRED"  # 已到期


ENDED = frozenset({SubscriptionState.REFUSED, SubscriptionState.REVOKED,
                   SubscriptionState.EXPIRED})


class SubscriptionStep(BaseModel):
    """订阅记录 one step of a subscription's history."""

    event_id: str
    action: SubscriptionAction
    actor: str
    at: str
    reason: str | None = None


class Subscription(BaseModel):
    """数据订阅 a subscription as the hub keeps it."""

    subscription_id: str
    dataset: str
    subscriber: str
    approver: str = Field(description="the dataset's owner, who approves or refuses")
    filter_field: str | None = None
    filter_value: str | None = None
    purpose: str | None = None
    state: SubscriptionState
    access: Access | None = Field(default=None, description="how the subscriber reads it")
    expires_at: str | None = None
    requested_at: str
    reason: str | None = Field(default=None, description="why it was refused or revoked")
    delivered: int = Field(default=0, description="records delivered so far")
    cursor: dict[str, int] = Field(
        default_factory=dict, description="next offset to deliver, per partition of its topic"
    )
    history: list[SubscriptionStep] = Field(default_factory=list)

    def applied(self, event_id: str) -> bool:
        return any(step.event_id == event_id for step in self.history)

    def wants(self, record: dict[str, Any]) -> bool:
        """Whether a record of the dataset passes the subscription's filter."""
        if self.filter_field is None:
            return True
        return str(record.get(self.filter_field)) == self.filter_value

    def parties(self) -> set[str]:
        return {self.subscriber, self.approver}


@dataclass(frozen=True)
class Refusal:
    """An action that does not fit: its rule and what to tell the actor."""

    rule: str
    message_en: str
    message_zh: str


def _refused(rule: str, en: str, zh: str) -> Refusal:
    return Refusal(rule, en, zh)


def _at(event: SubscriptionEvent) -> datetime:
    return event.occurred_at


def _end(event: SubscriptionEvent) -> str:
    end = event.expires_at or _at(event) + timedelta(days=DEFAULT_DAYS)
    return end.isoformat()


def advance(
    current: Subscription | None,
    event: SubscriptionEvent,
    catalogue: DataCatalogue,
    subscriber: Party | None,
) -> Subscription | Refusal | None:
    """The subscription after event; a `Refusal` if it does not fit; None when event was
    applied before (a duplicate: nothing changes). subscriber is the subscribing party
    (its kind says whether it may read the dataset without asking)."""
    if current is not None and current.applied(str(event.record_id)):
        return None
    dataset = catalogue.get(event.dataset)
    if dataset is None:
        return _refused(
            "subscription.dataset_unknown",
            f"no dataset {event.dataset}; GET /v1/catalogue lists them",
            f"没有数据集{event.dataset}，请查看GET /v1/catalogue",
        )
    if event.action is SubscriptionAction.REQUESTED:
        return _request(current, event, dataset, subscriber)
    if current is None:
        return _refused(
            "subscription.unknown", f"no subscription {event.subscription_id}",
            f"没有订阅{event.subscription_id}",
        )
    if current.dataset != event.dataset or current.subscriber != event.subscriber:
        return _refused(
            "subscription.mismatch",
            f"subscription {current.subscription_id} is {current.subscriber}'s to "
            f"{current.dataset}, not {event.subscriber}'s to {event.dataset}",
            "订阅的数据集或订阅方与原申请不符",
        )
    action = event.action
    if action in (SubscriptionAction.APPROVED, SubscriptionAction.REFUSED):
        return _decide(current, event)
    if action is SubscriptionAction.REVOKED:
        return _revoke(current, event)
    if action is SubscriptionAction.EXPIRED:
        if current.state is not SubscriptionState.ACTIVE:
            return _not_in_state(current, action)
        if current.expires_at is None or datetime.fromisoformat(current.expires_at) > _at(event):
            return _refused(
                "subscription.not_due", f"subscription {current.subscription_id} runs until "
                f"{current.expires_at}", f"订阅有效期至{current.expires_at}，尚未到期",
            )
        return _moved(current, event, SubscriptionState.EXPIRED)
    return _refused(  # DELIVER is the stage's own step (`deliver`), never advanced here
        "subscription.action", f"{action.value} is not a step of a subscription's state",
        f"{action.value}不是订阅状态的操作",
    )


def _request(
    current: Subscription | None,
    event: SubscriptionEvent,
    dataset: Dataset,
    subscriber: Party | None,
) -> Subscription | Refusal:
    if current is not None:
        return _refused(
            "subscription.exists", f"subscription {current.subscription_id} exists already",
            f"订阅{current.subscription_id}已存在",
        )
    if event.actor_party != event.subscriber or subscriber is None:
        return _refused(
            "subscription.not_subscriber", "a party requests a subscription for itself",
            "只能为本单位申请订阅",
        )
    if event.filter_field is not None and (
        event.filter_field not in dataset.fields or event.filter_value is None
    ):
        fields = ", ".join(dataset.fields)
        return _refused(
            "subscription.filter_unknown",
            f"filter by one of {dataset.id}'s fields ({fields}) and give its value",
            f"筛选字段应为数据集{dataset.id}的字段之一（{fields}），并给出筛选值",
        )
    access = dataset.access_of(subscriber)
    at = _at(event).isoformat()
    subscription = Subscription(
        subscription_id=str(event.subscription_id),
        dataset=dataset.id,
        subscriber=event.subscriber,
        approver=dataset.owner,
        filter_field=event.filter_field,
        filter_value=event.filter_value,
        purpose=event.purpose,
        state=SubscriptionState.PENDING if access is None else SubscriptionState.ACTIVE,
        access=access,
        expires_at=None if access is None else _end(event),
        requested_at=at,
    )
    subscription.history.append(_step(event))
    return subscription


def _decide(current: Subscription, event: SubscriptionEvent) -> Subscription | Refusal:
    if event.actor_party != current.approver:
        return _refused(
            "subscription.not_approver",
            f"only {current.approver}, the owner of {current.dataset}, decides on it",
            f"只有数据集{current.dataset}的所有方{current.approver}可以审批",
        )
    if current.state is not SubscriptionState.PENDING:
        return _not_in_state(current, event.action)
    if event.action is SubscriptionAction.REFUSED:
        if not event.reason:
            return _reason_required(event.action)
        return _moved(current, event, SubscriptionState.REFUSED)
    end = _end(event)
    if datetime.fromisoformat(end) <= _at(event):
        return _refused(
            "subscription.ends_in_the_past", f"expires_at {end} has passed",
            f"到期时间{end}已过",
        )
    if datetime.fromisoformat(end) > _at(event) + timedelta(days=MAX_DAYS):
        return _refused(
            "subscription.too_long", f"a subscription runs at most {MAX_DAYS} days",
            f"订阅期限最长{MAX_DAYS}天",
        )
    approved = _moved(current, event, SubscriptionState.ACTIVE)
    approved.access = Access(event.access or Access.MASKED)
    approved.expires_at = end
    return approved


def _revoke(current: Subscription, event: SubscriptionEvent) -> Subscription | Refusal:
    if event.actor_party not in current.parties():
        return _refused(
            "subscription.not_a_party",
            f"only {current.subscriber} or {current.approver} may revoke it",
            f"只有订阅方{current.subscriber}或所有方{current.approver}可以撤销",
        )
    if current.state in ENDED:
        return _not_in_state(current, event.action)
    if event.actor_party == current.approver and not event.reason:
        return _reason_required(event.action)
    return _moved(current, event, SubscriptionState.REVOKED)


def _moved(
    current: Subscription, event: SubscriptionEvent, state: SubscriptionState
) -> Subscription:
    moved = current.model_copy(deep=True)
    moved.state = state
    if event.reason:
        moved.reason = event.reason
    moved.history = [*moved.history, _step(event)][-HISTORY_LIMIT:]
    return moved


def _step(event: SubscriptionEvent) -> SubscriptionStep:
    return SubscriptionStep(
        event_id=str(event.record_id), action=event.action, actor=event.actor_party,
        at=_at(event).isoformat(), reason=event.reason,
    )


def _not_in_state(current: Subscription, action: SubscriptionAction) -> Refusal:
    return _refused(
        "subscription.not_in_state",
        f"subscription {current.subscription_id} is {current.state.value}: "
        f"{action.value} does not fit",
        f"订阅{current.subscription_id}当前状态为{current.state.value}，不能{action.value}",
    )


def _reason_required(action: SubscriptionAction) -> Refusal:
    return _refused(
        "subscription.reason_required", f"{action.value} needs a reason",
        "请填写理由",
    )


def due_to_expire(subscription: Subscription, now: datetime) -> bool:
    return (
        subscription.state is SubscriptionState.ACTIVE
        and subscription.expires_at is not None
        and datetime.fromisoformat(subscription.expires_at) <= now
    )
