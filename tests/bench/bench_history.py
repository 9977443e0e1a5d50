"""H3: what a worker's readers cost with a long history (`make bench`, case H3).

A fresh app's ``orders`` changelog is filled with N order views (100,000 by default), as
the lifecycle stage stores them: most closed long ago, some open, a few past their
deadlines, across streets, departments and months. A worker of that app restores them
and is then asked, one request at a time:

- ``GET /metrics`` (the order gauges and the assessment counters of every party),
- ``GET /v1/assessment`` as the justice bureau (every party's month),

and its deadline sweep runs every second; the sweep's own loop time is read from its
histogram ``hub_deadline_sweep_seconds`` over a window after the first sweep (which
reports the overdue orders: traffic, not history). Targets: scrape ≤ 50 ms, assessment
≤ 100 ms, sweep ≤ 50 ms (issue 20).
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.dispatch import (
    CreditIndex,
    Deadlines,
    OrderIndex,
    credit,
    load_deadline_policy,
    open_order,
    opened,
    view_to_dict,
)
from hub.records import KINDS, DispatchOrder, validate
from hub.reference import REFERENCE_DIR, load_calendar, load_seed_reference
from hub.wire import partition_for
from tests.bench.bench_dispatch import DEPARTMENTS, STREETS, _order

ORDER_TOPIC = KINDS["order"].topic
CLOSED_SHARE = 0.9
OVERDUE_SHARE = 0.01
ANSWERED = {  # what a closed order credited its recipient: answered on time in an hour
    "signed": 1, "signed_on_time": 1, "answered": 1, "answered_on_time": 1,
    "response_count": 1, "response_seconds_sum": 3600, "buckets": {"168": 1},
}


def history(count: int, partitions: int, now: datetime) -> list[tuple[int, str, dict[str, Any]]]:
    """count stored order views (partition, order id, value) as the lifecycle stage keeps
    them: 90 % closed over the last 90 days, 1 % open and past their deadlines, the rest
    open and received in the last hour."""
    rng = random.Random(20)  # noqa: S311 - a reproducible history, not a secret
    record = validate("order", _order(STREETS[0], DEPARTMENTS[0], now, "history"))
    assert isinstance(record, DispatchOrder)  # noqa: S101
    view = open_order(record)
    template = {
        **view_to_dict(view),
        "assessment": credit(None, opened(view)),
        "order": record.model_dump(mode="json"),
    }
    made = []
    for n in range(count):
        value = copy.deepcopy(template)
        order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        issuer, recipient = rng.choice(STREETS), rng.choice(DEPARTMENTS)
        draw = rng.random()
        if draw < CLOSED_SHARE:
            at = now - timedelta(days=rng.uniform(1, 90))
            state = "CLOSED"
        elif draw < CLOSED_SHARE + OVERDUE_SHARE:
            at = now - timedelta(days=rng.uniform(10, 30))
            state = "ISSUED"
        else:
            at = now - timedelta(minutes=rng.uniform(1, 60))
            state = rng.choice(("ISSUED", "SIGNED", "IN_PROGRESS"))
        period = (at + timedelta(hours=8)).strftime("%Y-%m")  # Beijing time
        credits: dict[str, Any] = {
            f"{recipient}|{period}": {"received": 1, **(ANSWERED if state == "CLOSED" else {})},
            f"{issuer}|{period}": {"issued": 1},
        }
        partition = partition_for(order_id, partitions)
        value.update(
            order_id=order_id, issuer=issuer, recipients=[recipient], state=state,
            issued_at=at.isoformat(), received=at.isoformat(),
            deadline=(at + timedelta(days=3)).isoformat(), assessment=credits,
            partition=partition,
        )
        value["order"].update(order_id=order_id, from_party=issuer, to_parties=[recipient],
                              source_id=f"HIST-{n}")
        made.append((partition, order_id, value))
    return made


def index_cost(views: list[tuple[int, str, dict[str, Any]]]) -> float:
    """Microseconds the worker's order indexes spend on one change of an open order (the
    view parsed, its deadlines computed, the heaps and counters moved), in this process."""
    reference = load_seed_reference()
    deadlines = Deadlines(load_deadline_policy(REFERENCE_DIR / "deadlines.yaml"),
                          load_calendar(REFERENCE_DIR / "calendar.yaml"))
    index = OrderIndex(lambda v: deadlines.dues(v, reference.matters.get(v.matter_code)),
                       lambda key: False)
    credits = CreditIndex(lambda key, value: value.get("assessment") or {})
    for partition, key, value in views:
        index.changed(partition, key, None, value)
        credits.changed(partition, key, None, value)
    open_ones = [v for v in views if v[2]["state"] != "CLOSED"][:5000]
    began = time.perf_counter()
    for partition, key, value in open_ones:
        index.changed(partition, key, value, value)
        credits.changed(partition, key, value, value)
    return (time.perf_counter() - began) / max(1, len(open_ones)) * 1e6


def fill_changelog(bootstrap: str, app_id: str, count: int,
                   progress: Callable[[str], None]) -> tuple[int, float]:
    """Write count views into app_id's orders changelog (created here, compacted, as the
    worker would create it); the number of order partitions, and `index_cost` on them."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = len(consumer.partitions_for_topic(ORDER_TOPIC) or ())
    finally:
        consumer.close()
    changelog = f"{app_id}-orders-changelog"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-bench-history")
    try:
        admin.create_topics([NewTopic(changelog, partitions, 1,
                                      topic_configs={"cleanup.policy": "compact"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    views = history(count, partitions, datetime.now(UTC))
    progress(f"  H3: writing {count} order views into {changelog}")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=512 * 1024, compression_type=None)
    try:
        for partition, order_id, value in views:
            producer.send(changelog, key=json.dumps(order_id).encode(),
                          value=json.dumps(value, separators=(",", ":")).encode(),
                          partition=partition)
        producer.flush()
    finally:
        producer.close()
    return partitions, index_cost(views)


def get(url: str, token: str) -> bytes:
    """GET url of a local worker with token (200, or an error)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - local http
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - local http
        body: bytes = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"GET {url}: {answer.status}")
    return body


def timed_gets(url: str, token: str, times: int) -> list[float]:
    """Milliseconds of times sequential GETs of url."""
    took = []
    for _ in range(times):
        began = time.perf_counter()
        get(url, token)
        took.append((time.perf_counter() - began) * 1000)
    return took


def sweep_histogram(base: str, token: str) -> tuple[float, float, dict[float, float]]:
    """hub_deadline_sweep_seconds: sum, count and cumulative buckets, from /metrics."""
    text = get(base + "/metrics", token).decode()
    total = count = 0.0
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("hub_deadline_sweep_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("hub_deadline_sweep_seconds_count"):
            count = float(line.split()[-1])
        elif line.startswith("hub_deadline_sweep_seconds_bucket"):
            edge = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if edge == "+Inf" else float(edge)] = float(line.split()[-1])
    return total, count, buckets


def measure(base: str, tokens: dict[str, str], window: float = 10.0) -> dict[str, Any]:
    """The readers' costs on a worker that restored the history (see the module)."""
    time.sleep(5)  # the first sweeps report the overdue orders; then steady state
    scrape = timed_gets(base + "/metrics", tokens["ops"], 30)
    assessment = timed_gets(base + "/v1/assessment", tokens["justice"], 30)
    before = sweep_histogram(base, tokens["ops"])
    time.sleep(window)
    after = sweep_histogram(base, tokens["ops"])
    sweeps = after[1] - before[1]
    mean = (after[0] - before[0]) / sweeps * 1000 if sweeps else float("nan")
    slowest = min(
        (edge for edge, n in after[2].items() if n - before[2].get(edge, 0.0) >= sweeps),
        default=float("inf"),
    )
    return {
        "scrape_ms": statistics.median(scrape),
        "scrape_max_ms": max(scrape),
        "assessment_ms": statistics.median(assessment),
        "assessment_max_ms": max(assessment),
        "sweep_ms": mean,
        "sweeps": sweeps,
        "sweep_at_most_ms": slowest * 1000,
    }
