"""A party's system as a test double: the webhook it receives on, the API the hub polls.

**This is a test double.** It plays the external party (a street's patrol platform, a
department's case system) in integration tests and in the demo. The production path
(``hub/``, ``connectors/``) never imports it; the connectors reach it over HTTP only,
exactly as they reach a real party.

What it does:

- ``POST /inbox`` receives webhook deliveries. It records every request (body and
  headers), verifies ``X-Hub-Signature`` (HMAC-SHA256 of ``"<timestamp>.<body>"``) when
  it was given the shared secret (401 when wrong or missing), and deduplicates by
  ``Idempotency-Key``: a repeat is answered 200 like the first time, but recorded as a
  repeat, so a test can tell "received twice" from "applied twice".
- It can be told to misbehave (on both endpoints), for the next N requests or until
  reset: answer 503 (down), close the connection without answering, sleep N seconds
  before answering, or answer 400 (refuse). It can also refuse chosen records (by
  ``X-Hub-Record-Id``) with 400 until reset. Methods do this in-process;
  ``POST /control`` does it from outside.
- ``GET /records?cursor=C`` serves a configured list of native records in pages:
  ``{"records": [...], "next_cursor": "<offset>"}``; at the end the cursor stays put
  and the page is empty. Every cursor asked for is remembered.
- ``GET /stats`` and the `counters` attribute count requests per endpoint and answer.

In-process use (tests)::

    async with PartySimulator(secret=b"s3cret") as party:
        config = {..., "url": party.inbox_url}
        party.fail(FailMode.DOWN)          # 503 until party.reset()
        ...
        assert party.distinct_keys() == expected

As a program (the demo): ``python -m deploy.demo.party --port 8701 --kind webhook``
or ``--kind poll --records records.json --page-size 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import signal
import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

Kind = Literal["webhook", "poll", "both"]


class FailMode(StrEnum):
    """How the party misbehaves while told to fail."""

    DOWN = "503"  # answer 503 Service Unavailable
    CLOSE = "close"  # close the connection without an answer
    SLOW = "sleep"  # sleep `seconds` before handling the request normally
    REFUSE = "400"  # answer 400 Bad Request (the record itself is refused)


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook request (a first delivery or a repeat of one)."""

    body: bytes
    headers: dict[str, str]
    idempotency_key: str
    repeat: bool
    signature_valid: bool | None  # None when the simulator has no secret
    at: float

    @property
    def record_id(self) -> str:
        return self.headers.get("X-Hub-Record-Id", "")

    @property
    def kind(self) -> str:
        return self.headers.get("X-Hub-Kind", "")

    def json(self) -> Any:
        """The body as JSON, decoded with the charset of its Content-Type."""
        content_type = self.headers.get("Content-Type", "")
        charset = "utf-8"
        if "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";")[0].strip()
        return json.loads(self.body.decode(charset))


@dataclass(frozen=True)
class Attempt:
    """Any request to the inbox, with the answer it got ("closed" when none)."""

    idempotency_key: str
    record_id: str
    answer: str
    at: float


@dataclass
class _Failure:
    mode: FailMode
    remaining: int | None  # None: until reset
    seconds: float = 0.0


SIMULATOR: web.AppKey[PartySimulator] = web.AppKey("simulator")


class PartySimulator:
    """An in-process HTTP server playing one party (a test double, never production)."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        records: list[Any] | None = None,
        page_size: int = 100,
        kind: Kind = "both",
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        """port 0 takes a free port (read `port` after `start`)."""
        self.secret = secret
        self.kind = kind
        self.host = host
        self.port = port
        self.verbose = verbose
        self.deliveries: list[Delivery] = []
        self.attempts: list[Attempt] = []
        self.counters: Counter[str] = Counter()
        self.cursors_seen: list[str | None] = []
        self.refused_ids: set[str] = set()
        self.records: list[Any] = list(records or [])  # what GET /records serves
        self.page_size = page_size
        self.page_delay = 0.0  # seconds before each page is answered
        self._failure: _Failure | None = None
        self._seen: set[str] = set()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> PartySimulator:
        app = web.Application()
        app[SIMULATOR] = self
        if self.kind in ("webhook", "both"):
            app.router.add_post("/inbox", self._on_inbox)
        if self.kind in ("poll", "both"):
            app.router.add_get("/records", self._on_records)
        app.router.add_post("/control", self._on_control)
        app.router.add_get("/stats", self._on_stats)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PartySimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def inbox_url(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def records_url(self) -> str:
        return f"{self.base_url}/records"

    # -------------------------------------------------------------- control

    def fail(self, mode: FailMode | str, count: int | None = None, seconds: float = 0.0) -> None:
        """Misbehave for the next count requests (None: until `reset`)."""
        self._failure = _Failure(FailMode(mode), count, seconds)

    def refuse(self, *record_ids: str) -> None:
        """Answer 400 to these records (by X-Hub-Record-Id) every time they come."""
        self.refused_ids.update(record_ids)

    def reset(self) -> None:
        """Behave again: no failure mode, no refused records."""
        self._failure = None
        self.refused_ids.clear()

    def serve(self, records: list[Any], page_size: int | None = None) -> None:
        """Serve these native records on GET /records (replacing the list)."""
        self.records = list(records)
        self.page_size = page_size or self.page_size

    def add_records(self, records: list[Any]) -> None:
        """Append records to what GET /records serves (new data at the party)."""
        self.records.extend(records)

    # --------------------------------------------------------------- reading

    def first_deliveries(self) -> list[Delivery]:
        """Deliveries in arrival order, repeats left out: what the party applied."""
        return [d for d in self.deliveries if not d.repeat]

    def distinct_keys(self) -> list[str]:
        return [d.idempotency_key for d in self.first_deliveries()]

    def repeats(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.repeat]

    def failed_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.answer.startswith("2")]

    def stats(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "deliveries": len(self.deliveries),
            "distinct": len(self._seen),
            "repeats": len(self.repeats()),
            "failing": None
            if self._failure is None
            else {"mode": self._failure.mode.value, "remaining": self._failure.remaining},
            "refused_ids": sorted(self.refused_ids),
            "cursors_seen": self.cursors_seen,
            "records": len(self.records),
        }

    # -------------------------------------------------------------- handlers

    def _take_failure(self) -> _Failure | None:
        failure = self._failure
        if failure is None:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failure = None
        return failure

    def _attempt(self, key: str, record_id: str, answer: str) -> None:
        self.attempts.append(Attempt(key, record_id, answer, time.time()))
        self.counters[f"inbox.{answer}"] += 1

    async def _on_inbox(self, request: web.Request) -> web.StreamResponse:
        self.counters["inbox"] += 1
        body = await request.read()
        headers = dict(request.headers)
        key = headers.get("Idempotency-Key", "")
        record_id = headers.get("X-Hub-Record-Id", "")
        failure = self._take_failure()
        if failure is not None:
            if failure.mode is FailMode.DOWN:
                self._attempt(key, record_id, "503")
                return web.json_response({"error": "down for maintenance"}, status=503)
            if failure.mode is FailMode.REFUSE:
                self._attempt(key, record_id, "400")
                return web.json_response({"error": "told to refuse"}, status=400)
            if failure.mode is FailMode.CLOSE:
                self._attempt(key, record_id, "closed")
                return self._hang_up(request)
            await asyncio.sleep(failure.seconds)
        valid: bool | None = None
        if self.secret is not None:
            valid = self._signature_valid(headers, body)
            if not valid:
                self._attempt(key, record_id, "401")
                return web.json_response({"error": "bad signature"}, status=401)
        if record_id in self.refused_ids:
            self._attempt(key, record_id, "400")
            return web.json_response({"error": f"record {record_id} refused"}, status=400)
        if not key:
            self._attempt(key, record_id, "400")
            return web.json_response({"error": "Idempotency-Key missing"}, status=400)
        repeat = key in self._seen
        self._seen.add(key)
        self.deliveries.append(Delivery(body, headers, key, repeat, valid, time.time()))
        self._attempt(key, record_id, "200")
        if self.verbose:
            print(f"{'repeat' if repeat else 'received'} {key}: {body[:200]!r}", flush=True)
        return web.json_response({"status": "duplicate" if repeat else "accepted"})

    @staticmethod
    def _hang_up(request: web.Request) -> web.Response:
        """Close the connection without answering (the client sees a disconnect)."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503)  # never written: the connection is gone

    def _signature_valid(self, headers: dict[str, str], body: bytes) -> bool:
        assert self.secret is not None
        stamp = headers.get("X-Hub-Timestamp", "")
        given = headers.get("X-Hub-Signature", "")
        if not stamp or not given.startswith("sha256="):
            return False
        digest = hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(given, f"sha256={digest.hexdigest()}")

    async def _on_records(self, request: web.Request) -> web.Response:
        self.counters["records"] += 1
        cursor = request.query.get("cursor")
        self.cursors_seen.append(cursor)
        failure = self._take_failure()
        if failure is not None:
            if failure.mode is FailMode.DOWN:
                return web.json_response({"error": "down"}, status=503)
            if failure.mode is FailMode.REFUSE:
                return web.json_response({"error": "told to refuse"}, status=400)
            if failure.mode is FailMode.CLOSE:
                return self._hang_up(request)
            await asyncio.sleep(failure.seconds)
        if self.page_delay:
            await asyncio.sleep(self.page_delay)
        try:
            start = int(cursor) if cursor else 0
        except ValueError:
            return web.json_response({"error": f"bad cursor {cursor!r}"}, status=400)
        records = self.records[start : start + self.page_size]
        return web.json_response(
            {"records": records, "next_cursor": str(start + len(records))},
            dumps=lambda value: json.dumps(value, ensure_ascii=False),
        )

    async def _on_control(self, request: web.Request) -> web.Response:
        """JSON commands: {"fail": "503"|"close"|"sleep"|"400", "count": N, "seconds": S},
        {"reset": true}, {"refuse": [record ids]}, {"records": [...], "page_size": N},
        {"page_delay": S}."""
        try:
            command = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "send a JSON object"}, status=400)
        if not isinstance(command, dict):
            return web.json_response({"error": "send a JSON object"}, status=400)
        if command.get("reset"):
            self.reset()
        if "fail" in command:
            try:
                self.fail(command["fail"], command.get("count"), float(command.get("seconds", 0)))
            except ValueError:
                modes = ", ".join(m.value for m in FailMode)
                return web.json_response({"error": f"fail is one of {modes}"}, status=400)
        if "refuse" in command:
            self.refuse(*[str(i) for i in command["refuse"]])
        if "records" in command:
            self.serve(list(command["records"]), command.get("page_size"))
        if "page_delay" in command:
            self.page_delay = float(command["page_delay"])
        return web.json_response(self.stats())

    async def _on_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())


def _read_records(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        records = json.loads(text)
        assert isinstance(records, list)
        return records
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def _serve(args: argparse.Namespace, secret: bytes | None, records: list[Any]) -> None:
    simulator = PartySimulator(
        secret=secret,
        records=records,
        page_size=args.page_size,
        kind=args.kind,
        host=args.host,
        port=args.port,
        verbose=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        print(
            f"party simulator ({args.kind}) on {simulator.base_url}: POST /inbox, "
            "GET /records?cursor=, POST /control, GET /stats; Ctrl-C stops",
            flush=True,
        )
        await stop.wait()
    print(json.dumps(simulator.stats(), ensure_ascii=False), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.demo.party",
        description="A party's system as a test double (webhook receiver, pollable API).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--kind", choices=["webhook", "poll", "both"], default="both")
    parser.add_argument("--secret-file", help="shared HMAC secret: verify X-Hub-Signature")
    parser.add_argument("--records", help="JSON array or JSON-lines file of native records")
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    secret = Path(args.secret_file).read_bytes().strip() if args.secret_file else None
    records = _read_records(Path(args.records)) if args.records else []
    asyncio.run(_serve(args, secret, records))


if __name__ == "__main__":
    main()
