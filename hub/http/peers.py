"""The other workers, for the resources whose data lives on one of them: an order's
view lives on the worker that owns its partition, and lists and assessments are gathered
from every worker. A request is forwarded once (``X-Hub-Forwarded``); a peer asked by a
gathering answers with its own share only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from hub.http.problems import Problem

FORWARDED = "X-Hub-Forwarded"


class Peers:
    """Forwarding to the owner of an order and gathering from every worker."""

    def __init__(
        self,
        advertised: str,
        owner_of: Callable[[str], URL | None],
        worker_urls: Callable[[], list[URL]],
    ) -> None:
        self.advertised = URL(advertised)
        self.owner_of = owner_of
        self.worker_urls = worker_urls
        self._session: aiohttp.ClientSession | None = None

    def install(self, app: web.Application) -> None:
        app.on_cleanup.append(self._close)

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _here(self, url: URL) -> bool:
        return (url.host, url.port) == (self.advertised.host, self.advertised.port)

    @staticmethod
    def forwarded(request: web.Request) -> bool:
        """Whether request came from a peer (forwarded or gathering)."""
        return bool(request.headers.get(FORWARDED))

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    def owner(self, order_id: str) -> URL | None:
        """URL of the worker owning the order's partition; None when it is this one."""
        try:
            owner = self.owner_of(order_id)
        except (KeyError, ValueError, AttributeError):
            return None
        if owner is None or self._here(owner):
            return None
        return owner

    async def forward(self, request: web.Request, owner: URL) -> web.Response:
        if request.headers.get(FORWARDED):
            raise Problem(
                "timeout",
                "the order's partition is moving between workers; retry in a moment",
                detail_zh="该派单所在分区正在工作节点间迁移，请稍后重试",
                headers={"Retry-After": "2"},
            )
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        headers[FORWARDED] = "1"
        target = owner.with_path(request.path).with_query(request.query)
        try:
            async with self.session().request(
                request.method, target, headers=headers, data=await request.read()
            ) as answer:
                body = await answer.read()
                return web.Response(
                    status=answer.status,
                    body=body,
                    content_type=answer.content_type,
                    headers={
                        k: v
                        for k, v in answer.headers.items()
                        if k in ("Retry-After", "WWW-Authenticate")
                    },
                )
        except (aiohttp.ClientError, TimeoutError):
            raise _away(owner) from None

    async def gather(
        self, request: web.Request, path: str, query: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Ask every other worker the same question (marked forwarded; the request's own
        query unless query is given), as the caller, and collect."""
        peers = [url for url in self.worker_urls() if not self._here(url)]
        if not peers:
            return []
        session = self.session()
        headers = {"Authorization": request.headers.get("Authorization", ""), FORWARDED: "1"}

        async def ask(peer: URL) -> dict[str, Any]:
            try:
                async with session.get(
                    peer.with_path(path).with_query(request.query if query is None else query),
                    headers=headers,
                ) as answer:
                    if answer.status != 200:
                        raise _away(peer)
                    return dict(await answer.json())
            except (aiohttp.ClientError, TimeoutError):
                raise _away(peer) from None

        return list(await asyncio.gather(*(ask(peer) for peer in peers)))


def _away(peer: URL) -> Problem:
    """503: a worker that holds part of the answer did not give it (it may be restarting
    or its partitions moving); the caller retries."""
    return Problem(
        "timeout",
        f"worker {peer} did not answer; retry",
        detail_zh="另一工作节点未应答，请稍后重试",
        headers={"Retry-After": "2"},
    )
