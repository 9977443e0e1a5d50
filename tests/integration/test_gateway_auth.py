"""Gateway authentication and authorisation on the real broker: the whole party matrix,
tokens, body signatures, rate limits, and the audit trail of allowed and refused calls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse

from hub.errors import ConfigError
from hub.http import HTTP_KINDS, PUBLISHABLE, token_hash
from hub.http.policy import ADMITTED_KINDS
from hub.records import KINDS, AuditEvent, AuditResult, derive_record_id
from hub.reference import PartyKind
from tests.integration.conftest import (
    REPRESENTATIVES,
    GatewayHarness,
    auth,
    encode,
    end_offsets,
    expect_problem,
    post,
    read_range,
    record_for,
    serve,
    settings_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(
    applied_topics: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GatewayHarness]:
    harness = await GatewayHarness.start(applied_topics, tmp_path_factory.mktemp("gateway-auth"))
    try:
        yield harness
    finally:
        await harness.stop()


# ===================================================== 3. the authorisation matrix

BATCHED = [kind for kind in HTTP_KINDS if kind not in ADMITTED_KINDS]  # events: one at a time
ENDPOINTS = (
    [("publish", kind) for kind in HTTP_KINDS]
    + [("batch", kind) for kind in BATCHED]
    + [("inbox", None), ("stream", None), ("openapi", None)]
)


def _expected(party_kind: PartyKind, action: str, kind: str | None) -> int:
    if action in ("publish", "batch"):
        return 202 if kind in PUBLISHABLE[party_kind] else 403
    if action in ("inbox", "stream"):
        return 403 if party_kind is PartyKind.OPS else 200
    return 200


CELLS = [
    pytest.param(
        party_kind,
        action,
        kind,
        _expected(party_kind, action, kind),
        id=f"{party}:{action}{'-' + kind if kind else ''}",
    )
    for party_kind, party in REPRESENTATIVES.items()
    for action, kind in ENDPOINTS
]


async def test_matrix_covers_every_cell() -> None:
    assert len(CELLS) == len(REPRESENTATIVES) * (len(HTTP_KINDS) + len(BATCHED) + 3)
    assert set(REPRESENTATIVES) == set(PartyKind)
    assert sorted(HTTP_KINDS) == sorted(set().union(*PUBLISHABLE.values()))


@pytest.mark.parametrize(("party_kind", "action", "kind", "status"), CELLS)
async def test_authorisation_matrix(
    hub: GatewayHarness, party_kind: PartyKind, action: str, kind: str | None, status: int
) -> None:
    party = REPRESENTATIVES[party_kind]
    token = hub.token(party)
    if action == "publish":
        assert kind is not None
        record = record_for(kind, party)
        response = await post(hub.client, f"/v1/records/{kind}", record, token)
        if status == 202:
            answer = await response.json()
            assert response.status == 202, answer
            assert answer["record_id"] == str(derive_record_id(party, record["source_id"]))
            assert answer["topic"] == KINDS[kind].topic
        else:
            body = await expect_problem(response, 403, "forbidden")
            assert party in body["detail"]
    elif action == "batch":
        assert kind is not None
        record = record_for(kind, party)
        response = await post(hub.client, f"/v1/records/{kind}/batch", {"records": [record]}, token)
        if status == 202:
            answer = await response.json()
            assert response.status == 202, answer
            assert answer["accepted"] == 1
            (result,) = answer["results"]
            assert result["status"] == 202
            assert result["record_id"] == str(derive_record_id(party, record["source_id"]))
        else:
            await expect_problem(response, 403, "forbidden")
    elif action == "inbox":
        response = await hub.client.get("/v1/inbox", params={"limit": "1"}, headers=auth(token))
        if status == 200:
            page = await response.json()
            assert response.status == 200, page
            assert isinstance(page["items"], list) and isinstance(page["cursor"], str)
        else:
            await expect_problem(response, 403, "forbidden")
    elif action == "stream":
        response = await hub.client.get("/v1/inbox/stream", headers=auth(token))
        try:
            if status == 200:
                assert response.status == 200
                assert response.content_type == "text/event-stream"
            else:
                await expect_problem(response, 403, "forbidden")
        finally:
            response.close()
    else:
        response = await hub.client.get("/v1/openapi.json", headers=auth(token))
        document = await response.json()
        assert response.status == 200
        assert document["openapi"].startswith("3.")
        assert {f"/v1/records/{k}" for k in HTTP_KINDS} <= set(document["paths"])


# ================================================================ 3. bad tokens


@dataclass
class BadTokens:
    revoked: str
    unknown: str
    wrong_secret: str


@pytest.fixture(scope="module")
def bad_tokens(hub: GatewayHarness) -> BadTokens:
    revoked, entry = hub.served.store.issue("street-jiyuqiao")
    hub.served.store.revoke(entry.token_id)
    good = hub.token("dept-urban")
    prefix, token_id, secret = good.split("_", 2)
    return BadTokens(
        revoked=revoked,
        unknown=f"hub_{uuid.uuid4().hex[:8]}_{secret}",
        wrong_secret=f"{prefix}_{token_id}_{secret[::-1]}",
    )


def _authorization(variant: str, tokens: BadTokens) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if variant == "none":
        return headers
    value = {
        "malformed": "Bearer not-a-token",
        "basic": "Basic c3RyZWV0OnNlY3JldA==",
        "unknown": f"Bearer {tokens.unknown}",
        "wrong-secret": f"Bearer {tokens.wrong_secret}",
        "revoked": f"Bearer {tokens.revoked}",
    }[variant]
    return {**headers, "Authorization": value}


UNAUTHENTICATED = [
    pytest.param(variant, method, path, id=f"{variant}:{method} {path}")
    for variant in ("none", "malformed", "basic", "unknown", "wrong-secret", "revoked")
    for method, path in (
        [("POST", f"/v1/records/{kind}") for kind in HTTP_KINDS]
        + [("POST", f"/v1/records/{kind}/batch") for kind in HTTP_KINDS]
        + [("GET", "/v1/inbox"), ("GET", "/v1/inbox/stream"), ("GET", "/v1/openapi.json")]
    )
]


@pytest.mark.parametrize(("variant", "method", "path"), UNAUTHENTICATED)
async def test_missing_or_bad_token_is_401_with_www_authenticate(
    hub: GatewayHarness, bad_tokens: BadTokens, variant: str, method: str, path: str
) -> None:
    kind = path.split("/")[3] if path.startswith("/v1/records/") else "clue"
    record = record_for(kind, "street-jiyuqiao")
    body = encode({"records": [record]} if path.endswith("/batch") else record)
    response = await hub.client.request(
        method,
        path,
        data=body if method == "POST" else None,
        headers=_authorization(variant, bad_tokens),
    )
    await expect_problem(response, 401, "unauthenticated", "WWW-Authenticate")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_revoked_while_in_use_stops_working(hub: GatewayHarness) -> None:
    token, entry = hub.served.store.issue("court")
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    assert response.status == 200
    await response.read()
    await asyncio.sleep(0.05)  # past the file system's timestamp granularity
    hub.served.store.revoke(entry.token_id)
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    await expect_problem(response, 401, "unauthenticated", "WWW-Authenticate")


async def test_a_revocation_within_the_same_timestamp_tick_still_takes_effect(
    hub: GatewayHarness,
) -> None:
    """Linux stamps files with a coarse clock (one jiffy, 1-10 ms): a revocation written
    right after the gateway last read the tokens file can carry the very same mtime."""
    path = hub.settings.tokens_path
    token, entry = hub.served.store.issue("court")
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    assert response.status == 200
    await response.read()
    read_at = path.stat().st_mtime_ns  # what the gateway saw when it authenticated
    hub.served.store.revoke(entry.token_id)
    os.utime(path, ns=(path.stat().st_atime_ns, read_at))  # the write landed in that tick
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    await expect_problem(response, 401, "unauthenticated", "WWW-Authenticate")


async def test_the_hub_itself_cannot_be_authenticated_as(hub: GatewayHarness) -> None:
    """parties.yaml: 'hub' is the source of hub-originated records and cannot log in."""
    with pytest.raises(ConfigError, match="hub itself"):
        hub.served.store.issue("hub")
    # A hand-edited tokens file: an entry for 'hub' still does not authenticate.
    token, entry = hub.served.store.issue("street-jiyuqiao")
    path = hub.served.store.path
    document = json.loads(path.read_text(encoding="utf-8"))
    for stored in document["tokens"]:
        if stored["token_id"] == entry.token_id:
            stored["party"] = "hub"
    path.write_text(json.dumps(document), encoding="utf-8")
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    await expect_problem(response, 401, "unauthenticated", "WWW-Authenticate")


async def test_a_token_of_a_party_unknown_to_the_reference_is_401(hub: GatewayHarness) -> None:
    token, _ = hub.served.store.issue("street-atlantis")
    response = await hub.client.get("/v1/openapi.json", headers=auth(token))
    await expect_problem(response, 401, "unauthenticated", "WWW-Authenticate")


# ================================================================= 4. signatures


def sign(token: str, body: bytes, stamp: int | str) -> dict[str, str]:
    digest = hmac.new(token_hash(token).encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return {"X-Hub-Signature": f"sha256={digest.hexdigest()}", "X-Hub-Timestamp": str(stamp)}


async def _signed(
    hub: GatewayHarness, kind: str, party: str, headers: dict[str, str], body: bytes
) -> ClientResponse:
    return await hub.client.post(
        f"/v1/records/{kind}", data=body, headers=auth(hub.token(party), **headers)
    )


async def test_a_signed_request_is_accepted_once_and_refused_when_replayed(
    hub: GatewayHarness,
) -> None:
    party = "street-jiyuqiao"
    body = encode(record_for("clue", party))
    headers = sign(hub.token(party), body, int(time.time()))
    first = await _signed(hub, "clue", party, headers, body)
    answer = await first.json()
    assert first.status == 202, answer
    again = await _signed(hub, "clue", party, headers, body)
    await expect_problem(again, 401, "replayed-signature")


async def test_a_wrong_signature_is_401_and_nothing_is_written(hub: GatewayHarness) -> None:
    party = "street-jiyuqiao"
    record = record_for("clue", party)
    body = encode(record)
    headers = sign(hub.token(party), body + b" ", int(time.time()))
    response = await _signed(hub, "clue", party, headers, body)
    await expect_problem(response, 401, "bad-signature")
    # Not remembered as accepted: the same record, properly signed, is new (no duplicate).
    fresh = await _signed(hub, "clue", party, sign(hub.token(party), body, int(time.time())), body)
    answer = await fresh.json()
    assert fresh.status == 202, answer
    assert "duplicate" not in answer


async def test_a_signature_made_with_another_partys_key_is_401(hub: GatewayHarness) -> None:
    party = "street-jiyuqiao"
    body = encode(record_for("clue", party))
    headers = sign(hub.token("dept-urban"), body, int(time.time()))
    response = await _signed(hub, "clue", party, headers, body)
    await expect_problem(response, 401, "bad-signature")


@pytest.mark.parametrize("age", [600, -600], ids=["ten-minutes-old", "ten-minutes-ahead"])
async def test_a_stale_signature_is_401(hub: GatewayHarness, age: int) -> None:
    party = "street-jiyuqiao"
    body = encode(record_for("clue", party))
    headers = sign(hub.token(party), body, int(time.time()) - age)
    response = await _signed(hub, "clue", party, headers, body)
    await expect_problem(response, 401, "stale-signature")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature": "sha256=00"},
        {"X-Hub-Signature": "md5=00", "X-Hub-Timestamp": "1"},
        {"X-Hub-Signature": "sha256=00", "X-Hub-Timestamp": "yesterday"},
    ],
    ids=["no-timestamp", "not-sha256", "timestamp-not-a-number"],
)
async def test_a_malformed_signature_is_401(hub: GatewayHarness, headers: dict[str, str]) -> None:
    party = "street-jiyuqiao"
    response = await _signed(hub, "clue", party, headers, encode(record_for("clue", party)))
    await expect_problem(response, 401, "bad-signature")


async def test_a_timestamp_of_non_ascii_digits_is_401_not_500(hub: GatewayHarness) -> None:
    """str.isdigit() accepts '²' (and other Unicode digits) that int() refuses."""
    party = "street-jiyuqiao"
    body = encode(record_for("clue", party))
    headers = sign(hub.token(party), body, "²")
    response = await _signed(hub, "clue", party, headers, body)
    await expect_problem(response, 401, "bad-signature")


async def test_signatures_can_be_required(hub: GatewayHarness, tmp_path: Path) -> None:
    settings = settings_for(hub.bootstrap, tmp_path, gateway_require_signature=True)
    served = await serve(settings, hub.reference, hub.serde, ["dept-urban"])
    try:
        token = served.token("dept-urban")
        body = encode(record_for("order-event", "dept-urban"))
        response = await served.client.post(
            "/v1/records/order-event", data=body, headers=auth(token)
        )
        await expect_problem(response, 401, "bad-signature")
        headers = sign(token, body, int(time.time()))
        response = await served.client.post(
            "/v1/records/order-event", data=body, headers=auth(token, **headers)
        )
        answer = await response.json()
        assert response.status == 202, answer
        response = await served.client.get("/v1/openapi.json", headers=auth(token))
        assert response.status == 200  # reads need no signature
        await response.read()
    finally:
        await served.close()


# ================================================================= 4. rate limits


async def test_a_party_over_its_burst_gets_429_and_others_do_not(
    hub: GatewayHarness, tmp_path: Path
) -> None:
    settings = settings_for(hub.bootstrap, tmp_path, gateway_rate=0.2, gateway_burst=3)
    served = await serve(settings, hub.reference, hub.serde, ["police", "court"])
    try:
        police = auth(served.token("police"))
        for _ in range(3):
            response = await served.client.get("/v1/openapi.json", headers=police)
            assert response.status == 200
            await response.read()
        response = await served.client.get("/v1/openapi.json", headers=police)
        await expect_problem(response, 429, "rate-limited", "Retry-After")
        assert int(response.headers["Retry-After"]) >= 1
        response = await served.client.post(
            "/v1/records/order-event",
            data=encode(record_for("order-event", "police")),
            headers=police,
        )
        await expect_problem(response, 429, "rate-limited", "Retry-After")

        response = await served.client.get("/v1/openapi.json", headers=auth(served.token("court")))
        assert response.status == 200
        await response.read()
    finally:
        await served.close()


# ===================================================================== 7. audit


@dataclass
class AuditTrail:
    accepted_record_id: str
    events: list[AuditEvent]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def audit_trail(hub: GatewayHarness) -> AuditTrail:
    """A 202, a 401, a 403 and a 422; then the audit events written since."""
    topic = KINDS["audit"].topic
    before = await end_offsets(hub.bootstrap, topic)

    record = record_for("clue", "street-jiyuqiao")
    response = await post(hub.client, "/v1/records/clue", record, hub.token("street-jiyuqiao"))
    accepted = await response.json()
    assert response.status == 202, accepted
    response = await post(hub.client, "/v1/records/officer", record_for("officer", "justice"), None)
    assert response.status == 401
    await response.read()
    response = await post(
        hub.client, "/v1/records/permit", record_for("permit", "finance"), hub.token("finance")
    )
    assert response.status == 403
    await response.read()
    bad = record_for("entity", "bigdata")
    bad["registered_on"] = "not a date"
    response = await post(hub.client, "/v1/records/entity", bad, hub.token("bigdata"))
    assert response.status == 422
    await response.read()

    events: list[AuditEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    seen: set[tuple[int, int]] = set()
    while loop.time() < deadline:
        after = await end_offsets(hub.bootstrap, topic)
        for message in await read_range(hub.bootstrap, topic, before, after):
            if (message.partition, message.offset) not in seen:
                seen.add((message.partition, message.offset))
                event = await hub.serde.decode("audit", message.value)
                assert isinstance(event, AuditEvent)
                events.append(event)
        if _matching(events, "finance", AuditResult.REFUSED, 403) and _matching(
            events, "anonymous", AuditResult.REFUSED, 401
        ):
            break
        await asyncio.sleep(0.5)
    return AuditTrail(accepted["record_id"], events)


def _matching(
    events: list[AuditEvent], actor: str, result: AuditResult, status: int
) -> list[AuditEvent]:
    return [
        e
        for e in events
        if e.actor_party == actor and e.result is result and e.status_code == status
    ]


def _describe(events: list[AuditEvent]) -> list[Any]:
    return [(e.actor_party, e.action, e.result.value, e.status_code, e.record_kind) for e in events]


async def test_an_accepted_publish_is_audited(audit_trail: AuditTrail) -> None:
    found = [
        e
        for e in _matching(audit_trail.events, "street-jiyuqiao", AuditResult.ACCEPTED, 202)
        if str(e.subject_id) == audit_trail.accepted_record_id
    ]
    assert len(found) == 1, _describe(audit_trail.events)
    (event,) = found
    assert event.action == "POST /v1/records/{kind}"
    assert event.record_kind == "clue"
    assert event.source_party == "hub"
    assert event.client_address == "127.0.0.1"


async def test_an_unauthenticated_request_is_audited_as_refused(audit_trail: AuditTrail) -> None:
    found = [
        e
        for e in _matching(audit_trail.events, "anonymous", AuditResult.REFUSED, 401)
        if e.record_kind == "officer"
    ]
    assert found, _describe(audit_trail.events)
    assert found[0].detail  # why it was refused


async def test_a_forbidden_request_is_audited_as_refused(audit_trail: AuditTrail) -> None:
    found = [
        e
        for e in _matching(audit_trail.events, "finance", AuditResult.REFUSED, 403)
        if e.record_kind == "permit"
    ]
    assert found, _describe(audit_trail.events)
    assert found[0].detail


async def test_an_invalid_record_is_audited_as_rejected(audit_trail: AuditTrail) -> None:
    found = [
        e
        for e in _matching(audit_trail.events, "bigdata", AuditResult.REJECTED, 422)
        if e.record_kind == "entity"
    ]
    assert found, _describe(audit_trail.events)
