"""Subscriptions to shared datasets, broker-free: the state machine a request, a decision
and a revocation move (`hub.shared.advance`), the stage's cores that apply them and
deliver the snapshot and the changes (`hub.stages.subscribe`, `deliver`, `pump_steps`),
and the HTTP side that checks an action before writing it (issue 17)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.records import KINDS, SharedChange, SubscriptionEvent
from hub.reference import load_seed_reference
from hub.settings import HubSettings
from hub.shared import Refusal, Subscription, SubscriptionState, advance, load_datasets
from hub.stages import Change, Read, State, SubscriptionWorld, deliver, pump_steps, subscribe
from hub.wire import inbox_topic
from tests.samples import sample

if TYPE_CHECKING:
    from tests.unit.conftest import Served

REFERENCE = load_seed_reference()
CATALOGUE = load_datasets(HubSettings().datasets_file)
WORLD = SubscriptionWorld(
    CATALOGUE, REFERENCE, {p.id: inbox_topic(p.id) for p in REFERENCE.parties.with_inbox()}
)
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SUB = "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19"


def _event(action: str, actor: str, subscriber: str = "finance", dataset: str = "permit",
           **fields: Any) -> SubscriptionEvent:
    event = SubscriptionEvent.model_validate({
        "source_party": actor, "source_id": f"http/{uuid.uuid4().hex}", "occurred_at": NOW,
        "subscription_id": SUB, "action": action, "actor_party": actor, "dataset": dataset,
        "subscriber": subscriber, **fields,
    })
    return event


class _Message:
    def __init__(self, value: bytes = b"avro") -> None:
        self.value = value
        self.key = SUB.encode()
        self.headers: list[tuple[str, bytes]] = []


def _step(state: State, event: SubscriptionEvent) -> Any:
    return subscribe([Read(_Message(), event)], state, WORLD)


def _apply(*events: SubscriptionEvent) -> Subscription | Refusal | None:
    current = None
    outcome: Subscription | Refusal | None = None
    for event in events:
        outcome = advance(current, event, CATALOGUE, REFERENCE.parties.get(event.subscriber))
        if isinstance(outcome, Subscription):
            current = outcome
    return outcome


def test_a_party_that_may_not_read_waits_for_the_owner_who_approves_with_an_access() -> None:
    asked = _apply(_event("REQUESTED", "finance", purpose="罚没款收缴核对"))
    assert isinstance(asked, Subscription)
    assert (asked.state, asked.approver, asked.access) == (
        SubscriptionState.PENDING, "bigdata", None)
    approved = _apply(
        _event("REQUESTED", "finance", purpose="罚没款收缴核对"),
        _event("APPROVED", "bigdata", access="masked"),
    )
    assert isinstance(approved, Subscription)
    assert approved.state is SubscriptionState.ACTIVE
    assert approved.access == "masked"
    assert datetime.fromisoformat(str(approved.expires_at)) == NOW + timedelta(days=365)
    assert [s.action for s in approved.history] == ["REQUESTED", "APPROVED"]


def test_a_party_that_may_read_is_subscribed_at_once_with_its_own_access() -> None:
    taken = _apply(_event("REQUESTED", "street-jiyuqiao", subscriber="street-jiyuqiao",
                          dataset="entity", purpose="辖区市场主体"))
    assert isinstance(taken, Subscription)
    assert (taken.state, taken.access) == (SubscriptionState.ACTIVE, "masked")


def test_actions_that_do_not_fit_are_refused_with_their_rule() -> None:
    request = _event("REQUESTED", "finance", purpose="核对")

    def rule(*events: SubscriptionEvent) -> str:
        outcome = _apply(*events)
        assert isinstance(outcome, Refusal), outcome
        return outcome.rule

    assert rule(_event("REQUESTED", "police", purpose="x")) == "subscription.not_subscriber"
    assert rule(_event("REQUESTED", "finance", dataset="weather")) == (
        "subscription.dataset_unknown")
    assert rule(_event("REQUESTED", "finance", filter_field="colour", filter_value="red")) == (
        "subscription.filter_unknown")
    assert rule(request, _event("APPROVED", "finance")) == "subscription.not_approver"
    assert rule(request, _event("REFUSED", "bigdata")) == "subscription.reason_required"
    assert rule(request, _event("APPROVED", "bigdata"), _event("APPROVED", "bigdata")) == (
        "subscription.not_in_state")
    assert rule(request, _event("APPROVED", "bigdata",
                                expires_at=NOW + timedelta(days=5 * 365))) == (
        "subscription.too_long")
    assert rule(request, _event("REVOKED", "police")) == "subscription.not_a_party"
    assert rule(request, _event("REVOKED", "bigdata")) == "subscription.reason_required"
    assert rule(_event("APPROVED", "bigdata")) == "subscription.unknown"
    assert rule(request, _event("REVOKED", "finance"), _event("REVOKED", "finance")) == (
        "subscription.not_in_state")


def test_the_same_step_again_changes_nothing() -> None:
    request = _event("REQUESTED", "finance", purpose="核对")
    first = _apply(request)
    assert isinstance(first, Subscription)
    assert advance(first, request, CATALOGUE, REFERENCE.parties.get("finance")) is None


def test_the_stage_tells_the_owner_of_a_request_and_the_subscriber_of_the_decision() -> None:
    state = State({})
    asked = _step(state, _event("REQUESTED", "finance", purpose="核对"))
    assert [out.topic for out in asked.out] == [inbox_topic("bigdata")]
    assert state.get(SUB)["state"] == "PENDING"
    again = _step(state, _event("REFUSED", "bigdata", reason="无收缴需要"))
    assert [out.topic for out in again.out] == [inbox_topic("finance")]
    assert state.get(SUB)["state"] == "REFUSED"
    late = _step(state, _event("APPROVED", "bigdata"))  # crossed with the refusal
    assert late.out == []
    assert [p.reason for p in late.parked] == ["subscription.not_in_state"]


def _active(state: State, **fields: Any) -> None:
    _step(state, _event("REQUESTED", "finance", purpose="核对", **fields))
    _step(state, _event("APPROVED", "bigdata", access="masked"))


def _entity_change(partition: int, offset: int, **changes: Any) -> Change:
    record = {**sample("entity"), **changes}
    return Change(partition, offset, str(record["uscc"]), record)


def test_a_delivery_sends_the_records_masked_filtered_and_moves_the_cursor() -> None:
    state = State({})
    _step(state, _event("REQUESTED", "street-jiyuqiao", subscriber="street-jiyuqiao",
                        dataset="entity", purpose="辖区市场主体", filter_field="status",
                        filter_value="ACTIVE"))
    changes = [
        _entity_change(0, 0, legal_representative="王小明", status="ACTIVE"),
        _entity_change(0, 1, uscc="91420106MA4K000001", status="REVOKED"),  # filtered out
        Change(1, 4, "91420106MA4K000002", None),  # deleted
    ]
    deliver_event = _event("DELIVER", "hub", subscriber="street-jiyuqiao", dataset="entity")
    step = deliver(Read(_Message(), deliver_event), state, changes, {0: 2, 1: 5}, False,
                   WORLD, NOW)
    inbox = [out.record for out in step.out if out.topic == inbox_topic("street-jiyuqiao")]
    assert all(isinstance(r, SharedChange) for r in inbox)
    first, deleted = inbox
    assert isinstance(first, SharedChange) and isinstance(deleted, SharedChange)
    seen = json.loads(str(first.data))
    assert seen["legal_representative"] == "王**"  # masked: a street reads entities masked
    assert "source_party" not in seen  # the envelope is the hub's
    assert (deleted.deleted, deleted.data, deleted.key) == (True, None, "91420106MA4K000002")
    assert [out.topic for out in step.out].count(KINDS["shared-change"].topic) == 2
    (audit,) = [out.record for out in step.out if out.topic == KINDS["audit"].topic]
    assert (audit.dataset, audit.returned, audit.actor_party) == ("entity", 2,
                                                                 "street-jiyuqiao")
    assert "legal_representative" in audit.fields
    stored = state.get(SUB)
    assert (stored["cursor"], stored["delivered"]) == ({"0": 2, "1": 5}, 2)
    # the same change delivered again has the same id: the subscriber keeps it once
    replay = deliver(Read(_Message(), deliver_event), State({SUB: stored}), changes[:1],
                     {0: 1}, False, WORLD, NOW)
    assert replay.out[0].record.record_id == first.record_id


def test_a_delivery_with_more_waiting_asks_for_the_next_and_a_revoked_one_sends_nothing() -> None:
    state = State({})
    _active(state)
    permit = {**sample("permit")}
    changes = [Change(0, 0, str(permit["permit_no"]), permit)]
    read = Read(_Message(), _event("DELIVER", "hub"))
    step = deliver(read, state, changes, {0: 1}, True, WORLD, NOW)
    follow = [o.record for o in step.out if o.topic == KINDS["subscription"].topic]
    assert [e.action for e in follow] == ["DELIVER"]
    _step(state, _event("REVOKED", "finance"))
    assert deliver(read, state, changes, {0: 1}, False, WORLD, NOW).out == []


def test_the_pump_delivers_only_what_is_behind_and_ends_what_expired() -> None:
    state = State({})
    _active(state)
    active = Subscription.model_validate(state.get(SUB))
    active.cursor = {"0": 3}
    topic = KINDS["permit"].topic

    def topic_of(dataset: str) -> str | None:
        return topic

    def actions(ends: dict[str, dict[int, int]], now: datetime = NOW,
                outstanding: bool = False) -> list[str]:
        steps = pump_steps([active], ends, lambda _: outstanding, topic_of, now)
        return [e.action.value for e in steps]

    assert actions({topic: {0: 3}}) == []  # caught up: nothing to do, no traffic made
    assert actions({topic: {0: 4}}) == ["DELIVER"]
    assert actions({topic: {0: 4}}, outstanding=True) == []  # one under way already
    assert actions({topic: {0: 4}}, now=NOW + timedelta(days=366)) == ["EXPIRED"]


# ---------------------------------------------------------------- over HTTP


async def test_a_party_requests_the_owner_approves_and_each_sees_it(served: Served) -> None:
    status, answer = await served.post(
        "/v1/subscriptions", "finance", {"dataset": "permit", "purpose": "罚没款收缴核对"})
    assert status == 202, answer
    assert answer["state_after"] == "PENDING"
    assert answer["topic"] == KINDS["subscription"].topic
    (written,) = served.broker.to(KINDS["subscription"].topic)
    event = await served.serde.decode("subscription", written[1])
    assert isinstance(event, SubscriptionEvent)
    assert (event.action, event.subscriber, event.actor_party) == (
        "REQUESTED", "finance", "finance")
    # the stage applies it; the owner then approves over HTTP
    state = State(served.ledger.subscriptions)
    subscribe([Read(_Message(written[1]), event)], state, WORLD)
    sub_id = str(event.subscription_id)
    served.ledger.subscriptions[sub_id] = Subscription.model_validate(state.get(sub_id))
    status, listed = await served.get("/v1/subscriptions?role=approver", "bigdata")
    assert [s["subscription_id"] for s in listed["subscriptions"]] == [sub_id]
    assert (await served.get(f"/v1/subscriptions/{sub_id}", "police"))[0] == 404
    status, answer = await served.post(f"/v1/subscriptions/{sub_id}/approve", "finance", {})
    assert status == 403, answer  # not the subscriber's to decide
    assert answer["rule"] == "subscription.not_approver"
    status, answer = await served.post(f"/v1/subscriptions/{sub_id}/refuse", "bigdata", {})
    assert status == 422, answer
    assert answer["errors"][0]["path"] == "reason"
    status, answer = await served.post(
        f"/v1/subscriptions/{sub_id}/approve", "bigdata", {"access": "masked"})
    assert status == 202, answer
    assert answer["state_after"] == "ACTIVE"


async def test_a_request_names_its_wrong_fields(served: Served) -> None:
    status, answer = await served.post("/v1/subscriptions", "finance", {"dataset": "permit"})
    assert status == 422
    assert [e["path"] for e in answer["errors"]] == ["purpose"]
    status, answer = await served.post(
        "/v1/subscriptions", "finance", {"dataset": "permit", "purpose": "x", "colour": "red"})
    assert status == 422
    assert "colour" in [e["path"] for e in answer["errors"]]
    status, answer = await served.post(
        "/v1/subscriptions", "finance", {"dataset": "weather", "purpose": "x"})
    assert status == 422
    assert answer["errors"][0]["rule"] == "subscription.dataset_unknown"
    assert served.broker.to(KINDS["subscription"].topic) == []


async def test_a_subscription_not_applied_yet_is_503_not_404(served: Served) -> None:
    """Its notice can reach the owner's inbox before the table has it (outputs first)."""
    unknown = f"/v1/subscriptions/{uuid.uuid4()}"
    served.ledger.in_flight = True
    answer = await served.call("POST", f"{unknown}/approve", "bigdata", json={})
    assert answer.status == 503 and answer.headers["Retry-After"] == "1"
    served.ledger.in_flight = False
    assert (await served.get(unknown, "bigdata"))[0] == 404
