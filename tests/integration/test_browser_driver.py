"""The headless chromium driver against a tiny in-process page that needs a bearer token.

The page's own script fetches /data; the driver's extra headers must reach that fetch
as well as the navigation, or the page shows 'denied' instead of the number.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.browser import headless_chromium

TOKEN = "Bearer secret-x"

PAGE = """<!doctype html>
<html><head><title>driver check</title></head>
<body>
<h1>Driver check</h1>
<p>n = <span id="n">loading</span></p>
<script>
fetch('/data')
  .then(r => r.ok ? r.json().then(j => String(j.n)) : 'denied')
  .then(text => { document.getElementById('n').textContent = text; });
console.log('page script ran');
</script>
</body></html>
"""


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _data(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != TOKEN:
        return web.json_response({"error": "unauthorised"}, status=401)
    return web.json_response({"n": 42})


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """Base URL of the test page, served by aiohttp on a free loopback port."""
    app = web.Application()
    app.router.add_get("/", _index)
    app.router.add_get("/data", _data)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_headers_reach_page_fetches(site: str, tmp_path: Path) -> None:
    async with headless_chromium(headers={"Authorization": TOKEN}) as page:
        await page.goto(f"{site}/")
        await page.wait_for("document.getElementById('n').textContent === '42'")
        assert await page.evaluate("document.title") == "driver check"
        assert await page.evaluate("Number(document.getElementById('n').textContent) + 1") == 43
        assert await page.evaluate("Promise.resolve({a: [1, 2]})") == {"a": [1, 2]}
        assert await page.evaluate("[window.innerWidth, window.innerHeight]") == [1280, 900]
        with pytest.raises(RuntimeError, match="boom"):
            await page.evaluate("(() => { throw new Error('boom'); })()")
        assert any("page script ran" in line for line in page.console)
        shot = await page.screenshot(tmp_path / "page.png")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000


async def test_without_header_page_shows_denied(site: str) -> None:
    async with headless_chromium() as page:
        await page.goto(f"{site}/")
        await page.wait_for("document.getElementById('n').textContent !== 'loading'")
        assert await page.evaluate("document.getElementById('n').textContent") == "denied"
        with pytest.raises(AssertionError, match="Driver check"):
            await page.wait_for("document.getElementById('n').textContent === '42'", timeout=1)
