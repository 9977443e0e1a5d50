"""HTTP push (webhook) sink: deliver each record to the party's endpoint, in order.

Every delivery is a ``POST`` of the native document with

- ``Idempotency-Key``: the record id and kind, the same on every retry, so the party
  applies a record once however often it arrives;
- ``X-Hub-Timestamp`` and ``X-Hub-Signature: sha256=<hex>``, the HMAC-SHA256 of
  ``"<timestamp>.<body>"`` with the connector's shared secret (when configured);
- ``X-Hub-Kind``, ``X-Hub-Record-Id``, ``X-Hub-Trace-Id``.

A 2xx answer (or 409, "already have it") is a delivery. A timeout, a connection error,
408, 429 or a 5xx is retried with exponential backoff and full jitter, forever: records
wait in the party's inbox, in order, until the party is back. Any other 4xx means the
party refuses the record itself: `DeliveryRefused` sends it to the DLQ and the rest go on.

A circuit breaker per connector opens after `failures_to_open` consecutive failures:
while open no request is made (the runner waits ``open_seconds``), then one probe
decides. Each connector runs on its own task, so one dead party never slows another.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from connectors._base import DeliveryRefused, OutRecord, Sink
from connectors._config import ConnectorSpec
from connectors._registry import Transport, register
from hub.errors import HubError
from hub.logs import traced
from hub.metrics import DELIVERY, DELIVERY_FAILURES
from hub.wire import inbox_topic

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 425, 429})


class WebhookSettings(BaseModel):
    """How a webhook sink reaches its party (part of the connector's YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl = Field(description="the party's endpoint; records are POSTed to it")
    secret_file: str | None = Field(
        default=None,
        description="file holding the shared HMAC secret (never in the YAML or git)",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="per request")
    backoff_initial_seconds: float = Field(default=0.5, gt=0, description="first retry wait")
    backoff_max_seconds: float = Field(default=60.0, gt=0, description="longest retry wait")
    failures_to_open: int = Field(
        default=5, ge=1, description="consecutive failures that open the circuit breaker"
    )
    open_seconds: float = Field(
        default=30.0, gt=0, description="how long an open circuit waits before one probe"
    )


@dataclass
class CircuitBreaker:
    """closed → (failures_to_open failures) → open → (open_seconds) → half-open → probe."""

    failures_to_open: int
    open_seconds: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.open_seconds:
            return "half-open"
        return "open"

    def wait_seconds(self) -> float:
        """How long to wait before a request may be made (0 when one may be now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.open_seconds - (self.clock() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = self.clock()  # (re)open; a failed probe opens it again


@dataclass
class DeliveryStats:
    """What `hub connectors status` shows of a sink."""

    delivered: int = 0
    attempts: int = 0
    consecutive_failures: int = 0
    last_success: float | None = None
    last_error: str = ""
    latencies: list[float] = field(default_factory=list)


class WebhookSink(Sink):
    """Delivers to one party's webhook, in order, retrying until it is taken."""

    def __init__(
        self,
        settings: WebhookSettings,
        secret: bytes | None = None,
        session: aiohttp.ClientSession | None = None,
        on_failure: Callable[[], Awaitable[None]] | None = None,
        party: str | None = None,
    ) -> None:
        """session: an injected client (tests use one against an in-process server);
        on_failure: called after each failed attempt (the runner reports its status);
        party: the party delivered to, for ``hub_delivery_*`` metrics (none: not counted)."""
        self.party = party
        self.settings = settings
        self.secret = secret
        self._session = session
        self._own_session = session is None
        self.on_failure = on_failure
        self._stopping = asyncio.Event()
        self.breaker = CircuitBreaker(settings.failures_to_open, settings.open_seconds)
        self.stats = DeliveryStats()

    async def setup(self) -> None:
        self._stopping = asyncio.Event()  # set by a previous close (pause, then resume)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
            )

    async def write_batch(self, records: Sequence[OutRecord]) -> None:
        for record in records:
            await self._deliver(record)

    async def flush(self) -> None:
        """Deliveries are acknowledged one by one in `write_batch`: nothing is pending."""

    def stop(self) -> None:
        """Make a delivery that is waiting for the party give up at once (shutdown)."""
        self._stopping.set()

    def status(self) -> dict[str, Any]:
        stats = self.stats
        status: dict[str, Any] = {
            "circuit": self.breaker.state,
            "delivered": stats.delivered,
            "consecutive_failures": stats.consecutive_failures,
        }
        if stats.last_error:
            status["last_error"] = stats.last_error
        if stats.last_success:
            status["last_success"] = stats.last_success
        return status

    async def close(self) -> None:
        self._stopping.set()
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None

    async def _wait(self, seconds: float) -> None:
        """Sleep, but wake as soon as the sink is stopped."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def headers_for(self, record: OutRecord, now: float | None = None) -> dict[str, str]:
        stamp = str(int(now if now is not None else time.time()))
        headers = {
            "Content-Type": record.content_type,
            "Idempotency-Key": record.idempotency_key,
            "X-Hub-Kind": record.kind,
            "X-Hub-Record-Id": record.record_id,
            "X-Hub-Timestamp": stamp,
        }
        if record.trace_id:
            headers["X-Hub-Trace-Id"] = record.trace_id
        if self.secret:
            digest = hmac.new(self.secret, stamp.encode() + b"." + record.body, hashlib.sha256)
            headers["X-Hub-Signature"] = f"sha256={digest.hexdigest()}"
        return headers

    async def _deliver(self, record: OutRecord) -> None:
        delay = self.settings.backoff_initial_seconds
        while True:
            if self._stopping.is_set():
                raise HubError("the connector is stopping; the record stays in the inbox")
            wait = self.breaker.wait_seconds()
            if wait > 0:
                await self._wait(wait)
                continue
            outcome = await self._attempt(record)
            if outcome is None:
                self.breaker.success()
                self.stats.delivered += 1
                self.stats.consecutive_failures = 0
                self.stats.last_success = time.time()
                return
            self.breaker.failure()
            self.stats.consecutive_failures += 1
            self.stats.last_error = outcome
            if self.on_failure is not None:
                await self.on_failure()
            # full jitter: anywhere between 0 and the current backoff
            await self._wait(random.uniform(0, delay))  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, self.settings.backoff_max_seconds)

    async def _attempt(self, record: OutRecord) -> str | None:
        """None when delivered; the reason when it should be retried."""
        assert self._session is not None, "setup() first"  # noqa: S101
        self.stats.attempts += 1
        began = time.monotonic()
        try:
            async with self._session.post(
                str(self.settings.url), data=record.body, headers=self.headers_for(record)
            ) as answer:
                text = await answer.text(errors="replace")
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            if self.party is not None:
                DELIVERY_FAILURES.labels(self.party).inc()
            return f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300 or status == 409:
            took = time.monotonic() - began
            self.stats.latencies = [*self.stats.latencies[-999:], took]
            if self.party is not None:
                DELIVERY.labels(self.party).observe(took)
            with traced(record.trace_id):
                log.info(
                    "delivered %s %s to %s: HTTP %d in %.0f ms",
                    record.kind,
                    record.record_id,
                    self.party or self.settings.url,
                    status,
                    took * 1000,
                )
            return None
        if self.party is not None:
            DELIVERY_FAILURES.labels(self.party).inc()
        if status >= 500 or status in RETRIABLE_STATUS:
            return f"HTTP {status}: {text[:200]}"
        raise DeliveryRefused(record, status, text)


class WebhookConnector(ConnectorSpec, WebhookSettings):
    """Delivers the party's inbox ``out.<party>.v1`` to its HTTP endpoint (HTTP push)."""

    type: Literal["webhook"] = Field(description="HTTP push to the party")
    batch_size: int = Field(default=100, ge=1, le=5000, description="records per batch")


register(Transport(
    "webhook", WebhookConnector, "sink",
    lambda c, runtime: WebhookSink(c, secret=runtime.secret(c.secret_file), party=c.party),
    lambda c: f"{inbox_topic(c.party)} -> {c.url}",
))
