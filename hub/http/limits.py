"""Per-party rate limits (token buckets) and replay protection for body signatures."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per party: `rate` requests per second sustained, `burst` at once."""

    rate: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, party: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait (Retry-After)."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(party)
        if bucket is None:
            bucket = self._buckets[party] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


@dataclass
class ReplayGuard:
    """Remembers signatures seen within the freshness window, to refuse replays."""

    window_seconds: float = 300.0
    max_entries: int = 100_000
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def first_use(self, signature: str, now: float | None = None) -> bool:
        """True the first time a signature is seen within the window."""
        now = time.time() if now is None else now
        while self._seen and (
            next(iter(self._seen.values())) < now - self.window_seconds
            or len(self._seen) > self.max_entries
        ):
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
