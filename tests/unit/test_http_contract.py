"""Every documented answer of every route is one its handler gives, in the documented
shape: for each (method, path, status) of the served OpenAPI document a request that
makes the worker's HTTP side answer it, broker-free (`conftest.serve`); `Served` checks
each answer's status and body against the document. Statuses a route documents but can
never give are listed, with why, and must stay unreachable-by-design (none today)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from yarl import URL

from hub.dispatch import open_order, view_to_dict
from hub.http import HTTP_KINDS, openapi_document
from hub.http.policy import ADMITTED_KINDS, LATEST_WINS
from hub.records import DispatchOrder, validate
from hub.reference import load_seed_reference
from hub.shared import Subscription, SubscriptionState
from tests.samples import sample

if TYPE_CHECKING:
    from tests.unit.conftest import Answered, Served

Serve = Callable[..., Awaitable["Served"]]
Trigger = Callable[[Serve], Awaitable["Answered"]]
STREET, DEPT = "street-jiyuqiao", "dept-urban"
DEAD = URL("http://127.0.0.1:9")  # a worker that does not answer
DOCUMENT = openapi_document(None, load_seed_reference())
JSON = {"Content-Type": "application/json"}
REFERENCE = load_seed_reference()


def _publisher(kind: str) -> str:
    """A party that may publish kind, as its sample's source."""
    return str(sample(kind)["source_party"])


def _record(kind: str, **changes: Any) -> dict[str, Any]:
    return {**sample(kind), "source_id": f"C-{uuid.uuid4().hex[:12]}", **changes}


def _held_case(served: Served) -> str:
    case = validate("case", {**sample("case"), "trace_id": "ab" * 16}, REFERENCE)
    return served.shelf.keep(case)


def _record_on(served: Served, kind: str) -> dict[str, Any]:
    """A record of kind that fits what served holds: an execution of a case it keeps."""
    if kind == "execution":
        return _record(kind, case_id=_held_case(served))
    return _record(kind)


def _held_order(served: Served) -> str:
    data = sample("order", source_id=f"WS-{uuid.uuid4().hex[:8]}", to_parties=[DEPT])
    order = validate("order", {**data, "trace_id": "ab" * 16}, REFERENCE)
    assert isinstance(order, DispatchOrder)
    served.book.views[str(order.order_id)] = view_to_dict(open_order(order))
    return str(order.order_id)


# ------------------------------------------------------------------ triggers


async def body_problem(serve: Serve, path: str, party: str, status: int) -> Answered | None:
    """The answers every route taking a JSON body gives: 413 too large, 400 not JSON, 415
    not JSON at all; None for another status."""
    if status == 413:
        served = await serve(gateway_body_limit=1024)
        return await served.call("POST", path, party, json={"pad": "x" * 2048})
    if status == 400:
        return await (await serve()).call("POST", path, party, data="{", headers=JSON)
    if status == 415:
        return await (await serve()).call("POST", path, party, data="x",
                                          headers={"Content-Type": "text/plain"})
    return None


def publish(kind: str, status: int) -> Trigger:
    path = f"/v1/records/{kind}"
    party = _publisher(kind)

    async def trigger(serve: Serve) -> Answered:
        refused = await body_problem(serve, path, party, status)
        if refused is not None:
            return refused
        served = await serve()
        if status == 202:
            return await served.call("POST", path, party, json=_record_on(served, kind))
        if status == 409 and (kind == "execution" or kind not in ADMITTED_KINDS):
            first = _record_on(served, kind)  # the same record, other content
            await served.call("POST", path, party, json=first)
            other = {**first, "occurred_at": "2026-11-01T08:00:00+08:00"}
            return await served.call("POST", path, party, json=other)
        if status == 404 and kind == "execution":  # a case the hub does not hold
            return await served.call("POST", path, party, json=_record(kind))
        if status in (404, 409):  # an order event checked against its order
            order_id = _held_order(served)
            actor = "police" if status == 404 else DEPT  # police: not on the order
            event = _record(kind, source_party=actor, actor_party=actor, order_id=order_id,
                            event_type="FEEDBACK", comment="已处理")
            return await served.call("POST", path, actor, json=event)
        if status == 422:
            return await served.call("POST", path, party, json={"source_party": party})
        return await platform(served, "POST", path, party, status, json=_record_on(served, kind))

    return trigger


def check(kind: str, status: int) -> Trigger:
    """POST /v1/validate/{kind}: a publish's checks, nothing written."""
    path = f"/v1/validate/{kind}"
    party = _publisher(kind)

    async def trigger(serve: Serve) -> Answered:
        refused = await body_problem(serve, path, party, status)
        if refused is not None:
            return refused
        served = await serve()
        if status == 200:
            return await served.call("POST", path, party, json=_record_on(served, kind))
        if status == 422:  # not an object: nothing to give a verdict on
            return await served.call("POST", path, party, json=["not", "a", "record"])
        return await platform(served, "POST", path, party, status, json=_record(kind))

    return trigger


def batch(kind: str, status: int) -> Trigger:
    path = f"/v1/records/{kind}/batch"
    party = _publisher(kind)

    async def trigger(serve: Serve) -> Answered:
        if status == 413 or status == 202 or status == 207:
            served = await serve()
            count = {413: 4, 202: 2, 207: 1}[status]
            records = [_record(kind) for _ in range(count)]
            if status == 207:
                records.append({"source_party": party})
            return await served.call("POST", path, party, json={"records": records})
        if status in (400, 415):
            refused = await body_problem(serve, path, party, status)
            assert refused is not None
            return refused
        served = await serve()
        if status == 422:
            return await served.call("POST", path, party, json={"records": []})
        return await platform(served, "POST", path, party, status,
                              json={"records": [_record(kind)]})

    return trigger


async def platform(
    served: Served, method: str, path: str, party: str, status: int, **sent: Any
) -> Answered:
    """The answers every authenticated route shares: 401, 403, 429 and 503."""
    if status == 401:
        return await served.call(method, path, None, **sent)
    if status == 403:
        return await served.call(method, path, "ops", **sent)
    if status == 503:
        served.broker.unavailable = True
        return await served.call(method, path, party, **sent)
    raise AssertionError(f"no trigger for {method} {path} {status}")


def rate_limited(method: str, path: str, party: str, **sent: Any) -> Trigger:
    async def trigger(serve: Serve) -> Answered:
        served = await serve(gateway_rate=0.001, gateway_burst=1)
        await served.client.request(method, path, headers=served.auth(party))
        return await served.call(method, path, party, **sent)

    return trigger


def simple(method: str, path: str, party: str | None, **sent: Any) -> Trigger:
    async def trigger(serve: Serve) -> Answered:
        return await (await serve()).call(method, path, party, **sent)

    return trigger


def away(method: str, path: str, party: str, **sent: Any) -> Trigger:
    """503: another worker holds part of the answer and does not give it."""

    async def trigger(serve: Serve) -> Answered:
        served = await serve(peers=lambda: [DEAD])
        return await served.call(method, path, party, **sent)

    return trigger


def order_route(status: int, act: bool) -> Trigger:
    async def trigger(serve: Serve) -> Answered:
        if status == 413:
            served = await serve(gateway_body_limit=1024)
        elif status == 503 and not act:
            served = await serve(owner=lambda _: DEAD)
        else:
            served = await serve()
        order_id = _held_order(served)
        path = f"/v1/orders/{order_id}" + ("/events" if act else "")
        method = "POST" if act else "GET"
        if status == 404:
            return await served.call(method, f"/v1/orders/{uuid.uuid4()}" + (
                "/events" if act else ""), DEPT, json={"event_type": "SIGNED"})
        if not act:
            return (await served.call(method, path, DEPT) if status in (200, 503)
                    else await platform(served, method, path, DEPT, status))
        body: dict[str, Any] = {
            202: {"event_type": "SIGNED"},
            409: {"event_type": "FEEDBACK", "comment": "已处理"},
            413: {"event_type": "SIGNED", "comment": "x" * 2048},
            422: {"event_type": "SIGNED", "order_id": order_id},
        }.get(status, {"event_type": "SIGNED"})
        if status == 400:
            return await served.call(method, path, DEPT, data="{", headers=JSON)
        if status == 415:
            return await served.call(method, path, DEPT, data="x",
                                     headers={"Content-Type": "text/plain"})
        if status in (202, 409, 413, 422):
            return await served.call(method, path, DEPT, json=body)
        return await platform(served, method, path, DEPT, status, json=body)

    return trigger


def case_route(status: int) -> Trigger:
    async def trigger(serve: Serve) -> Answered:
        served = await serve(owner=lambda _: DEAD) if status == 503 else await serve()
        case = validate("case", {**sample("case"), "trace_id": "ab" * 16}, REFERENCE)
        case_id = served.shelf.keep(case)
        path = f"/v1/cases/{case_id}"
        if status == 404:
            return await served.call("GET", path, "police")  # neither owner nor supervisor
        if status in (200, 503):
            return await served.call("GET", path, "justice")
        return await platform(served, "GET", path, "justice", status)

    return trigger


def shared_route(template: str, status: int) -> Trigger:
    """A lookup (one key, or a search by secondary key) answering status."""
    purpose = {"X-Hub-Purpose": "inspection"}

    async def trigger(serve: Serve) -> Answered:
        served = await serve(gateway_rate=0.001, gateway_burst=1) if status == 429 else (
            await serve())
        if status != 503:
            entity = validate("entity", {**sample("entity"), "trace_id": "ab" * 16}, REFERENCE)
            await served.shared.apply("share.entity.v1", entity.uscc.encode(),
                                      await served.serde.encode("entity", entity))
            served.shared.ready.set()
        one = template.endswith("{key}")
        dataset = "nothing" if status == 404 and not one else "entity"
        key = "91420106MA4K000000" if status == 404 else sample("entity")["uscc"]
        path = f"/v1/shared/{dataset}/{key}" if one else (
            f"/v1/shared/{dataset}" if status == 422 else f"/v1/shared/{dataset}?uscc={key}")
        if not one and status != 422:
            path = f"/v1/shared/permit?holder_uscc={key}"
            if status == 404:
                path = "/v1/shared/nothing?x=1"
        party = {401: None, 403: "ops"}.get(status, STREET)
        headers = {} if status == 400 else purpose
        if status == 429:
            await served.client.get(path, headers={**served.auth(party), **headers})
        return await served.call("GET", path, party, headers=headers)

    return trigger


def _held_subscription(served: Served, state: str = "PENDING") -> str:
    """finance's request for permits, as the subscriptions stage keeps it."""
    subscription_id = str(uuid.uuid4())
    served.ledger.subscriptions[subscription_id] = Subscription(
        subscription_id=subscription_id, dataset="permit", subscriber="finance",
        approver="bigdata", purpose="罚没款收缴核对", state=SubscriptionState(state),
        requested_at="2026-12-01T09:00:00+08:00",
    )
    return subscription_id


def subscription_route(verb: str | None, status: int) -> Trigger:
    """POST /v1/subscriptions (verb None) or …/{id}/{verb} answering status."""

    async def trigger(serve: Serve) -> Answered:
        if status == 413:
            served = await serve(gateway_body_limit=1024)
        elif status == 429:
            served = await serve(gateway_rate=0.001, gateway_burst=1)
        else:
            served = await serve()
        ended = "REVOKED" if verb == "revoke" else "ACTIVE"  # nothing left to decide
        subscription_id = _held_subscription(served, ended if status == 409 else "PENDING")
        path = "/v1/subscriptions" if verb is None else (
            f"/v1/subscriptions/{subscription_id}/{verb}")
        actor = "finance" if verb in (None, "revoke") else "bigdata"
        body: dict[str, Any] = (
            {"dataset": "permit", "purpose": "罚没款收缴核对"} if verb is None
            else {"reason": "不再需要"} if verb in ("refuse", "revoke") else {"access": "masked"}
        )
        if status == 400:
            return await served.call("POST", path, actor, data="{", headers=JSON)
        if status == 413:
            return await served.call("POST", path, actor, json={**body, "purpose": "x" * 2048})
        if status == 415:
            return await served.call("POST", path, actor, data="x",
                                     headers={"Content-Type": "text/plain"})
        if status == 422:
            wrong = {"dataset": "permit"} if verb is None else {"access": "everything"}
            return await served.call("POST", path, actor, json=wrong)
        if status == 403 and verb in ("approve", "refuse"):  # the subscriber may not decide
            return await served.call("POST", path, "finance", json=body)
        if status == 404:
            return await served.call(
                "POST", f"/v1/subscriptions/{uuid.uuid4()}/{verb}", actor, json=body)
        if status == 429:
            await served.client.post(path, json=body, headers=served.auth(actor))
        if status in (202, 409, 429):
            return await served.call("POST", path, actor, json=body)
        return await platform(served, "POST", path, actor, status, json=body)

    return trigger


def subscription_read(one: bool, status: int) -> Trigger:
    """GET /v1/subscriptions (one False) or /v1/subscriptions/{id} answering status."""

    async def trigger(serve: Serve) -> Answered:
        served = await serve(owner=lambda _: DEAD) if status == 503 else await serve()
        subscription_id = _held_subscription(served)
        path = f"/v1/subscriptions/{subscription_id}" if one else "/v1/subscriptions"
        if status == 404:
            return await served.call("GET", f"/v1/subscriptions/{uuid.uuid4()}", "finance")
        if status == 422:
            return await served.call("GET", "/v1/subscriptions?role=everyone", "finance")
        if status == 429:
            return await rate_limited("GET", path, "bigdata")(serve)
        if status in (200, 503):
            return await served.call("GET", path, "bigdata")
        return await platform(served, "GET", path, "bigdata", status)

    return trigger


def stream(status: int) -> Trigger:
    async def trigger(serve: Serve) -> Answered:
        served = await serve()
        if status == 200:
            return await served.stream("/v1/inbox/stream", DEPT)
        if status == 422:
            return await served.call("GET", "/v1/inbox/stream?cursor=x", DEPT)
        return await platform(served, "GET", "/v1/inbox/stream", DEPT, status)

    return trigger


def _native_bytes() -> bytes:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sample_file = root / "connectors/department/samples/urban-case.json"
    native = json.loads(sample_file.read_text(encoding="utf-8"))["native"]
    return json.dumps(native, ensure_ascii=False).encode()


def native(status: int) -> Trigger:
    path = "/v1/native/urban-case"

    async def trigger(serve: Serve) -> Answered:
        served = await serve(gateway_body_limit=1024) if status == 413 else await serve()
        if status == 202:
            return await served.call("POST", path, DEPT, data=_native_bytes(), headers=JSON)
        if status == 404:
            return await served.call("POST", path, STREET, data=_native_bytes(), headers=JSON)
        if status == 413:
            return await served.call("POST", path, DEPT, data=b"{" + b" " * 2048, headers=JSON)
        if status == 422:
            return await served.call("POST", path, DEPT, data=b"{", headers=JSON)
        return await platform(served, "POST", path, DEPT, status, data=_native_bytes(),
                              headers=JSON)

    return trigger


async def native_event_out_of_turn(serve: Serve) -> Answered:
    """The police's own 不予立案 decision on a referral it has not accepted yet: 409."""
    served = await serve()
    data = sample("order", source_id=f"RF-{uuid.uuid4().hex[:8]}", order_type="CRIMINAL_REFERRAL",
                  to_parties=["police"], deadline=None,
                  referral={"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录"]})
    order = validate("order", {**data, "trace_id": "ab" * 16}, REFERENCE)
    assert isinstance(order, DispatchOrder)
    served.book.views[str(order.order_id)] = view_to_dict(open_order(order))
    decision = {"文书编号": f"J{uuid.uuid4().int % 10**20:020d}", "文书名称": "不予立案通知书",
                "文书文号": "武公（经）不立字〔2026〕15号", "移送案件编号": str(order.order_id),
                "决定类型": "03", "决定时间": "2026年11月26日15时20分", "理由": "没有犯罪事实"}
    return await served.call("POST", "/v1/native/decision", "police",
                             data=json.dumps(decision, ensure_ascii=False).encode(), headers=JSON)


def session_route(method: str, status: int) -> Trigger:
    """/v1/session: sign in (POST), the browser's session (GET), sign out (DELETE)."""

    async def trigger(serve: Serve) -> Answered:
        served = await serve()
        sign_in = {"token": served.tokens[STREET]}
        if method == "POST":
            if status in (400, 415):
                return await served.call("POST", "/v1/session", None, data="{",
                                         headers=JSON if status == 400 else {})
            body = {201: sign_in, 401: {"token": "hub_nope_x"}, 422: {"token": ""}}[status]
            return await served.call("POST", "/v1/session", None, json=body)
        if status in (200, 204):
            await served.call("POST", "/v1/session", None, json=sign_in)
        return await served.call(method, "/v1/session", None)

    return trigger


def triggers() -> dict[tuple[str, str, int], Trigger]:
    found: dict[tuple[str, str, int], Trigger] = {}
    for kind in HTTP_KINDS:
        for status in (200, 400, 401, 403, 413, 415, 422):
            found[("POST", f"/v1/validate/{kind}", status)] = check(kind, status)
        found[("POST", f"/v1/validate/{kind}", 429)] = rate_limited(
            "POST", f"/v1/validate/{kind}", _publisher(kind), json=_record(kind))
        for status in (202, 400, 401, 403, 413, 415, 422, 503):
            found[("POST", f"/v1/records/{kind}", status)] = publish(kind, status)
        if kind not in ADMITTED_KINDS and kind not in LATEST_WINS:
            found[("POST", f"/v1/records/{kind}", 409)] = publish(kind, 409)
        if kind in ADMITTED_KINDS:
            for status in (404, 409):
                found[("POST", f"/v1/records/{kind}", status)] = publish(kind, status)
            found[("POST", f"/v1/records/{kind}", 429)] = rate_limited(
                "POST", f"/v1/records/{kind}", _publisher(kind), json=_record(kind))
            continue  # no batch: one at a time
        for status in (202, 207, 400, 401, 403, 413, 415, 422, 503):
            found[("POST", f"/v1/records/{kind}/batch", status)] = batch(kind, status)
        found[("POST", f"/v1/records/{kind}", 429)] = rate_limited(
            "POST", f"/v1/records/{kind}", _publisher(kind), json=_record(kind))
        found[("POST", f"/v1/records/{kind}/batch", 429)] = rate_limited(
            "POST", f"/v1/records/{kind}/batch", _publisher(kind),
            json={"records": [_record(kind)]})
    found[("GET", "/v1/inbox", 200)] = simple("GET", "/v1/inbox", DEPT)
    found[("GET", "/v1/inbox", 401)] = simple("GET", "/v1/inbox", None)
    found[("GET", "/v1/inbox", 403)] = simple("GET", "/v1/inbox", "ops")
    found[("GET", "/v1/inbox", 422)] = simple("GET", "/v1/inbox?limit=0", DEPT)
    found[("GET", "/v1/inbox", 429)] = rate_limited("GET", "/v1/inbox", DEPT)

    async def inbox_away(serve: Serve) -> Answered:
        served = await serve()
        served.broker.unavailable = True
        return await served.call("GET", "/v1/inbox", DEPT)

    found[("GET", "/v1/inbox", 503)] = inbox_away
    for status in (200, 401, 403, 422):
        found[("GET", "/v1/inbox/stream", status)] = stream(status)
    found[("GET", "/v1/inbox/stream", 429)] = rate_limited("GET", "/v1/inbox/stream?cursor=x", DEPT)
    found[("GET", "/v1/orders", 200)] = simple("GET", "/v1/orders?role=received", DEPT)
    found[("GET", "/v1/orders", 401)] = simple("GET", "/v1/orders", None)
    found[("GET", "/v1/orders", 403)] = simple("GET", "/v1/orders", "ops")
    found[("GET", "/v1/orders", 422)] = simple("GET", "/v1/orders?role=mine", DEPT)
    found[("GET", "/v1/orders", 429)] = rate_limited("GET", "/v1/orders", DEPT)
    found[("GET", "/v1/orders", 503)] = away("GET", "/v1/orders", DEPT)
    for status in (200, 401, 403, 404, 503):
        found[("GET", "/v1/orders/{order_id}", status)] = order_route(status, act=False)
    found[("GET", "/v1/orders/{order_id}", 429)] = rate_limited(
        "GET", f"/v1/orders/{uuid.uuid4()}", DEPT)
    for status in (202, 400, 401, 403, 404, 409, 413, 415, 422, 503):
        found[("POST", "/v1/orders/{order_id}/events", status)] = order_route(status, act=True)
    found[("POST", "/v1/orders/{order_id}/events", 429)] = rate_limited(
        "POST", f"/v1/orders/{uuid.uuid4()}/events", DEPT, json={"event_type": "SIGNED"})
    found[("GET", "/v1/assessment", 200)] = simple("GET", "/v1/assessment", DEPT)
    found[("GET", "/v1/assessment", 401)] = simple("GET", "/v1/assessment", None)
    found[("GET", "/v1/assessment", 403)] = simple("GET", "/v1/assessment", "ops")
    found[("GET", "/v1/assessment", 422)] = simple("GET", "/v1/assessment?period=2026-13", DEPT)
    found[("GET", "/v1/assessment", 429)] = rate_limited("GET", "/v1/assessment", DEPT)
    found[("GET", "/v1/assessment", 503)] = away("GET", "/v1/assessment", DEPT)
    for status in (202, 401, 404, 413, 422, 503):
        found[("POST", "/v1/native/{native_kind}", status)] = native(status)
    found[("POST", "/v1/native/{native_kind}", 409)] = native_event_out_of_turn
    found[("POST", "/v1/native/{native_kind}", 429)] = rate_limited(
        "POST", "/v1/native/urban-case", DEPT, data=_native_bytes(), headers=JSON)
    found[("GET", "/v1/openapi.json", 200)] = simple("GET", "/v1/openapi.json", DEPT)
    found[("GET", "/v1/openapi.json", 401)] = simple("GET", "/v1/openapi.json", None)
    found[("GET", "/v1/openapi.json", 429)] = rate_limited("GET", "/v1/openapi.json", DEPT)
    found[("GET", "/v1/cases", 200)] = simple("GET", "/v1/cases?status=DECIDED", "justice")
    found[("GET", "/v1/cases", 401)] = simple("GET", "/v1/cases", None)
    found[("GET", "/v1/cases", 403)] = simple("GET", "/v1/cases", "ops")
    found[("GET", "/v1/cases", 422)] = simple("GET", "/v1/cases?status=SOLVED", "justice")
    found[("GET", "/v1/cases", 429)] = rate_limited("GET", "/v1/cases", "justice")
    found[("GET", "/v1/cases", 503)] = away("GET", "/v1/cases", "justice")
    for status in (200, 401, 403, 404, 503):
        found[("GET", "/v1/cases/{case_id}", status)] = case_route(status)
    found[("GET", "/v1/cases/{case_id}", 429)] = rate_limited(
        "GET", f"/v1/cases/{uuid.uuid4()}", "justice")
    for status in (200, 401, 403):
        found[("GET", "/v1/catalogue", status)] = simple(
            "GET", "/v1/catalogue", {200: STREET, 401: None, 403: "ops"}[status])
    found[("GET", "/v1/catalogue", 429)] = rate_limited("GET", "/v1/catalogue", STREET)
    for path in ("/v1/shared/{dataset}/{key}", "/v1/shared/{dataset}"):
        for status in (200, 400, 401, 403, 404, 429, 503):
            found[("GET", path, status)] = shared_route(path, status)
    found[("GET", "/v1/shared/{dataset}", 422)] = shared_route("/v1/shared/{dataset}", 422)
    for status in (202, 400, 401, 403, 413, 415, 422, 429, 503):
        found[("POST", "/v1/subscriptions", status)] = subscription_route(None, status)
    for verb in ("approve", "refuse", "revoke"):
        for status in (202, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503):
            found[("POST", f"/v1/subscriptions/{{subscription_id}}/{verb}", status)] = (
                subscription_route(verb, status))
    for status in (200, 401, 403, 422, 429, 503):
        found[("GET", "/v1/subscriptions", status)] = subscription_read(False, status)
    for status in (200, 401, 403, 404, 429, 503):
        found[("GET", "/v1/subscriptions/{subscription_id}", status)] = (
            subscription_read(True, status))
    for status in (201, 400, 401, 415, 422):
        found[("POST", "/v1/session", status)] = session_route("POST", status)
    for status in (200, 401):
        found[("GET", "/v1/session", status)] = session_route("GET", status)
    found[("DELETE", "/v1/session", 204)] = session_route("DELETE", 204)
    found[("GET", "/healthz", 200)] = simple("GET", "/healthz", None)
    found[("GET", "/readyz", 200)] = simple("GET", "/readyz", None)

    async def not_ready(serve: Serve) -> Answered:
        served = await serve()
        served.readiness["partitions"] = "the consumer group is rebalancing"
        return await served.call("GET", "/readyz", None)

    found[("GET", "/readyz", 503)] = not_ready
    for path in ("/metrics", "/ops", "/ops/data"):
        found[("GET", path, 200)] = simple("GET", path, "ops")
        found[("GET", path, 401)] = simple("GET", path, None)
        found[("GET", path, 403)] = simple("GET", path, STREET)
        found[("GET", path, 429)] = rate_limited("GET", path, "justice")
    return found


TRIGGERS = triggers()
DOCUMENTED = sorted(
    (method.upper(), path, int(status))
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    for status in operation["responses"]
)


def test_every_documented_answer_has_a_trigger() -> None:
    assert [key for key in DOCUMENTED if key not in TRIGGERS] == []
    assert [key for key in TRIGGERS if key not in DOCUMENTED] == []


@pytest.mark.parametrize(("method", "path", "status"), DOCUMENTED)
async def test_the_route_gives_its_documented_answer(
    serve: Serve, method: str, path: str, status: int
) -> None:
    answered = await TRIGGERS[(method, path, status)](serve)
    assert answered.status == status, answered.body
