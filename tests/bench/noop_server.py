"""A no-op aiohttp server: the baseline the gateway benchmark compares against.

It reads the body and answers 202 with a small JSON body, like the gateway's publish
path minus validation, Avro, Kafka and security.

    python -m tests.bench.noop_server PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(
        {"record_id": "noop", "topic": "noop", "partition": 0, "offset": 0}, status=202
    )


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/v1/records/{kind}", accept)
    app.router.add_post("/v1/records/{kind}/batch", accept)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
