"""The workbench's sign-in (issue 19), broker-free: a party's token once for a session
cookie that is HttpOnly, SameSite=Strict and expiring; requests authenticated by it go
through the same routes and policy (and audit) as a bearer token's; a change needs the
session's CSRF token and is refused from another site's page; a forged, expired or
revoked session is no session."""

from __future__ import annotations

import time
import uuid
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import pytest

from hub.http.cookies import COOKIE, CSRF_HEADER
from tests.samples import sample

if TYPE_CHECKING:
    from tests.unit.conftest import Served

STREET = "street-jiyuqiao"


def _whistle() -> dict[str, Any]:
    return {**sample("order"), "source_id": f"WB-{uuid.uuid4().hex[:10]}"}


async def _sign_in(served: Served, party: str = STREET) -> dict[str, Any]:
    answered = await served.call("POST", "/v1/session", None,
                                 json={"token": served.tokens[party]})
    assert answered.status == 201, answered.body
    return dict(answered.body)


async def test_a_token_signs_in_once_for_an_httponly_strict_expiring_cookie(
    served: Served,
) -> None:
    answered = await served.call("POST", "/v1/session", None,
                                 json={"token": served.tokens[STREET]})
    assert answered.status == 201, answered.body
    assert answered.body["party"] == STREET and answered.body["name"] == "积玉桥街道"
    cookie = SimpleCookie(answered.headers["Set-Cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == 8 * 3600
    assert not cookie["secure"]  # plain HTTP here; set behind HTTPS
    assert served.tokens[STREET] not in cookie.value  # the token itself never travels again

    # the cookie alone authenticates, as the party: its inbox, its session
    assert (await served.call("GET", "/v1/inbox", None)).status == 200
    shown = await served.call("GET", "/v1/session", None)
    assert shown.status == 200 and shown.body["csrf_token"] == answered.body["csrf_token"]


async def test_a_change_with_the_cookie_needs_the_csrf_token_and_the_hubs_own_origin(
    served: Served,
) -> None:
    csrf = (await _sign_in(served))["csrf_token"]
    refused = await served.call("POST", "/v1/records/order", None, json=_whistle())
    assert refused.status == 403 and CSRF_HEADER in refused.body["detail"]
    wrong = await served.call("POST", "/v1/records/order", None, json=_whistle(),
                              headers={CSRF_HEADER: csrf[:-2] + "xx"})
    assert wrong.status == 403
    host = served.client.make_url("/").raw_authority
    for elsewhere in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                      {"Sec-Fetch-Site": "cross-site"}):
        cross = await served.call("POST", "/v1/records/order", None, json=_whistle(),
                                  headers={CSRF_HEADER: csrf, **elsewhere})
        assert cross.status == 403, elsewhere
        assert "another site" in cross.body["detail"]
    same = await served.call("POST", "/v1/records/order", None, json=_whistle(),
                             headers={CSRF_HEADER: csrf, "Origin": f"http://{host}",
                                      "Sec-Fetch-Site": "same-origin"})
    assert same.status == 202, same.body

    await served.client.app.shutdown()  # lets the audit writes finish
    audited = [await served.serde.decode("audit", value)
               for _, value, _ in served.broker.to("hub.audit.v1")]
    posts = [(a.actor_party, a.status_code) for a in audited
             if a.action == "POST /v1/records/{kind}"]
    assert posts == [(STREET, 403)] * 5 + [(STREET, 202)]  # the audit names the party
    assert [a.actor_party for a in audited if a.action == "POST /v1/session"] == [STREET]


async def test_a_forged_expired_or_revoked_session_is_no_session(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _sign_in(served)
    jar = served.client.session.cookie_jar
    real = next(c.value for c in jar if c.key == COOKIE)
    forged = real.replace(STREET, "street-nanhu", 1)
    here = served.client.make_url("/")
    jar.clear()
    jar.update_cookies({COOKIE: forged}, here)
    assert (await served.call("GET", "/v1/inbox", None)).status == 401
    jar.clear()
    jar.update_cookies({COOKIE: real}, here)
    assert (await served.call("GET", "/v1/inbox", None)).status == 200

    later = time.time() + 8 * 3600 + 1
    monkeypatch.setattr("hub.http.cookies.time.time", lambda: later)
    expired = await served.call("GET", "/v1/inbox", None)
    assert expired.status == 401 and "POST /v1/session" in expired.body["detail"]
    monkeypatch.undo()

    (entry,) = [e for e in served.token_store.entries() if e.party == STREET]
    served.token_store.revoke(entry.token_id)  # what `hub tokens revoke` does
    assert (await served.call("GET", "/v1/inbox", None)).status == 401
    assert (await served.call("GET", "/v1/session", None)).status == 401


async def test_signing_out_clears_the_cookie(served: Served) -> None:
    await _sign_in(served)
    answered = await served.call("DELETE", "/v1/session", None)
    assert answered.status == 204
    cookie = SimpleCookie(answered.headers["Set-Cookie"])[COOKIE]
    assert cookie.value == "" and int(cookie["max-age"]) == 0 and cookie["httponly"]
    assert (await served.call("GET", "/v1/inbox", None)).status == 401
    bad = await served.call("POST", "/v1/session", None, json={"token": "hub_nope_x"})
    assert bad.status == 401
