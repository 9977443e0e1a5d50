"""The worker's HTTP server: one aiohttp application, started as a Faust web service.

Faust starts it after table recovery and stops it on shutdown. Later components (the
gateway, the embedded schema registry, /metrics) add their routes to `HttpServer.web`.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

from aiohttp import web
from mode import Service

from hub.http.ops import HEALTH, STARTED, healthz

log = logging.getLogger(__name__)


def build_web_app(body_limit: int = 1024 * 1024) -> web.Application:
    """The aiohttp application with the routes every worker serves."""
    app = web.Application(client_max_size=body_limit)
    app[STARTED] = time.time()
    app.router.add_get(HEALTH.path, healthz)
    return app


class HttpServer(Service):
    """Serves `web` on host:port while the worker runs."""

    def __init__(
        self,
        web_app: web.Application,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.web = web_app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._runner: web.AppRunner | None = None

    @property
    def web_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/"

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        log.info("HTTP server listening on %s", self.web_url)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
