"""The workbench's pages (issue 19), broker-free: served at /app/ without a token and
without an audit event, under a strict Content-Security-Policy; hashed assets cached for
good; nothing outside the build reachable; without a build, how to make one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.dispatch import TRANSITIONS, OrderState
from hub.http.workbench import Workbench
from hub.records import REASON_REQUIRED, OrderType

if TYPE_CHECKING:
    from tests.unit.conftest import Served


async def _client(dist: Path) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    Workbench(dist).install(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_the_pages_and_assets_are_served_with_a_strict_policy(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<title>工作台</title>", encoding="utf-8")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    client = await _client(tmp_path)
    try:
        page = await client.get("/app/")
        assert page.status == 200 and "工作台" in await page.text()
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-cache"
        asset = await client.get("/app/assets/index-abc.js")
        assert asset.status == 200 and "immutable" in asset.headers["Cache-Control"]
        assert (await client.get("/app/%2e%2e/secret.txt")).status == 404
        assert (await client.get("/app/assets/missing.js")).status == 404
        moved = await client.get("/app", allow_redirects=False)
        assert moved.status == 301 and moved.headers["Location"] == "/app/"
    finally:
        await client.close()


async def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    client = await _client(tmp_path / "dist")
    try:
        page = await client.get("/app/")
        assert page.status == 503 and "make install" in await page.text()
        assert "工作台尚未构建" in await page.text()
    finally:
        await client.close()


async def test_a_worker_serves_the_pages_without_a_token_or_an_audit_event(
    served: Served,
) -> None:
    page = await served.client.get("/app/")
    assert page.status in (200, 503)  # built by make install, or saying how
    assert "Content-Security-Policy" in page.headers
    await served.client.app.shutdown()
    assert served.broker.to("hub.audit.v1") == []


# ------------------------------------------- the pages speak the state machine

WORKBENCH_SRC = Path(__file__).resolve().parents[2] / "hub" / "workbench" / "src"


def _table(source: str, name: str) -> dict[str, str]:
    """A `export const NAME: Record<string, string> = {...}` table of labels.ts."""
    body = re.search(rf"export const {name}\b[^=]*= \{{(.*?)\n\}};", source, re.S)
    assert body, f"labels.ts has no table {name}"
    return dict(re.findall(r'^\s*"?([A-Za-z_-]+)"?: "([^"]*)",', body.group(1), re.M))


def test_every_order_type_state_and_party_action_has_its_chinese_label() -> None:
    """What the order page shows is what the state machine offers: a party action the
    hub may offer (`actions_for`), a state or a type without its label would show as a
    bare code."""
    labels = (WORKBENCH_SRC / "labels.ts").read_text(encoding="utf-8")
    offered = {event for rules in TRANSITIONS.values() for (_, event) in rules}
    events, states, types = (_table(labels, n) for n in ("EVENTS", "STATES", "ORDER_TYPES"))
    assert offered - set(events) == set()
    assert set(OrderState) - set(states) == set()
    assert set(OrderType) - set(types) == set()
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in [*events.values(), *states.values()])


def test_the_action_forms_ask_for_what_the_event_rules_require() -> None:
    """The page's forms (actions.ts) ask for a reason exactly where an OrderEvent needs
    one, a rating to evaluate, recipients to reassign and the referral made to say
    REFERRED: a form that asked less would end in the hub's 422."""
    actions = (WORKBENCH_SRC / "actions.ts").read_text(encoding="utf-8")
    reason = re.search(r"NEEDS_REASON = new Set\(\[(.*?)\]\)", actions, re.S)
    assert reason
    assert set(re.findall(r'"([A-Z_]+)"', reason.group(1))) == {str(e) for e in REASON_REQUIRED}
    for event, field in (("EVALUATED", "rating"), ("REASSIGNED", "reassign_to"),
                         ("REFERRED", "linked_order_id")):
        assert f'action === "{event}"' in actions and f"body.{field}" in actions, event
