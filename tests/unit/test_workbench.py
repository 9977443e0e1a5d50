"""The workbench's pages (issue 19), broker-free: served at /app/ without a token and
without an audit event, under a strict Content-Security-Policy; hashed assets cached for
good; nothing outside the build reachable; without a build, how to make one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.http.workbench import Workbench

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
