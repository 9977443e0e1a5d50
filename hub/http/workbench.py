"""``/app/``: the workbench 工作台 (issue 19), a page app every worker serves from
``hub/workbench/dist`` (built by ``make install`` with Node.js; never committed).

The pages carry no data: they sign in (``/v1/session``) and use the same API as any
party system. They are served without authentication and without an audit event (they
are not an exchange), with a strict Content-Security-Policy (only the hub's own scripts,
styles, images and connections; no framing), ``nosniff`` and no referrer. The hashed
assets are cached for good, the page itself never. Without a build, ``/app/`` says in
Chinese and English how to make one.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

DIST = Path(__file__).resolve().parent.parent / "workbench" / "dist"
PREFIX = "/app"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NOT_BUILT = (
    "工作台尚未构建：请运行 make install（需要 Node.js 20 和 npm）后重启工作进程。\n"
    "The workbench is not built: run `make install` (Node.js 20 and npm), then restart "
    "the worker.\n"
)


class Workbench:
    """Serves the built workbench under /app/."""

    def __init__(self, dist: Path = DIST) -> None:
        self.dist = dist

    def install(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self.to_app)
        app.router.add_get(PREFIX + "/", self.page)
        app.router.add_get(PREFIX + "/{path:.+}", self.asset)

    async def to_app(self, _: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(PREFIX + "/")

    async def page(self, _: web.Request) -> web.StreamResponse:
        index = self.dist / "index.html"
        if not index.is_file():
            return web.Response(status=503, text=NOT_BUILT, headers=HEADERS)
        return web.FileResponse(index, headers={**HEADERS, "Cache-Control": "no-cache"})

    async def asset(self, request: web.Request) -> web.StreamResponse:
        root = self.dist.resolve()
        wanted = (root / request.match_info["path"]).resolve()
        if not wanted.is_relative_to(root) or not wanted.is_file():
            raise web.HTTPNotFound()
        cache = "public, max-age=31536000, immutable" if "/assets/" in request.path else "no-cache"
        return web.FileResponse(wanted, headers={**HEADERS, "Cache-Control": cache})
