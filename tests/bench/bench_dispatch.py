"""Benchmark: the dispatch engine of one worker, throughput and end-to-end latency.

1. Throughput: a backlog of orders and their lifecycle events (SIGNED, REPORTED,
   FEEDBACK, CLOSED, EVALUATED) is written to ``enf.order.v1`` / ``enf.order-event.v1``
   first; then one `hub worker` starts and routes it all into the parties' inboxes. The
   rate is the records it consumed divided by the time from its first inbox write to its
   last (broker timestamps), three rounds, each with a fresh worker group.
2. Latency: with a worker running, orders and SIGNED events are published over HTTP at
   half the measured rate (open loop); the time from sending the request to the record
   arriving in the recipient's ``out.<party>.v1`` inbox gives p50 and p99.

    .venv/bin/python -m tests.bench.bench_dispatch [--orders N] [--seconds S] [--json FILE]

Uses HUB_KAFKA_BOOTSTRAP when set, else starts its own broker (port 29393).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.records import derive_record_id, validate
from hub.registry import open_registry
from hub.serde import AvroSerde
from hub.settings import HubSettings
from tests.bench.bench_gateway import HUB, KAFKA_SH, _cpu, _wait_healthy
from tests.conftest import free_port
from tests.samples import sample

BENCH_PORT = "29393"
STREETS = ["street-jiyuqiao", "street-yangyuan", "street-xujiapeng", "street-liangdao"]
DEPARTMENTS = ["dept-urban", "dept-water", "dept-health", "dept-housing"]
STORY = [
    ("SIGNED", "recipient", {}),
    ("REPORTED", "recipient", {}),
    ("FEEDBACK", "recipient", {"comment": "已现场处置"}),
    ("CLOSED", "issuer", {}),
    ("EVALUATED", "issuer", {"rating": 4}),
]


def _order(issuer: str, recipient: str, now: datetime, tag: str) -> dict[str, Any]:
    return sample(
        "order",
        source_party=issuer,
        from_party=issuer,
        to_parties=[recipient],
        source_id=f"BD-{tag}-{uuid.uuid4().hex[:12]}",
        occurred_at=now.isoformat(),
        issued_at=now.isoformat(),
        deadline=(now + timedelta(days=3)).isoformat(),
    )


def _event(order_id: str, event_type: str, actor: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_party": actor,
        "source_id": f"BE-{uuid.uuid4().hex[:14]}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "order_id": order_id,
        "event_type": event_type,
        "actor_party": actor,
        **extra,
    }


async def prefill(bootstrap: str, orders: int) -> int:
    """Write orders and their whole stories; the number of records written."""
    settings = HubSettings(kafka_bootstrap=bootstrap)
    now = datetime.now(UTC)
    rng = random.Random(7)  # noqa: S311 - a reproducible mix, not a secret
    written = 0
    async with open_registry(settings) as registry:
        serde = AvroSerde(registry)
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
        )
        await producer.start()
        try:
            made = []
            for _ in range(orders):
                issuer, recipient = rng.choice(STREETS), rng.choice(DEPARTMENTS)
                order = validate("order", _order(issuer, recipient, now, "prefill"))
                made.append((order, issuer, recipient))
                value = await serde.encode("order", order)
                await producer.send("enf.order.v1", key=str(order.record_id).encode(), value=value)
                written += 1
            for event_type, role, extra in STORY:
                for order, issuer, recipient in made:
                    actor = recipient if role == "recipient" else issuer
                    event = validate(
                        "order-event", _event(str(order.record_id), event_type, actor, extra)
                    )
                    value = await serde.encode("order-event", event)
                    await producer.send(
                        "enf.order-event.v1", key=str(order.record_id).encode(), value=value
                    )
                    written += 1
            await producer.flush()
        finally:
            await producer.stop()
    return written


async def inbox_span(bootstrap: str, expected: int, since_ms: int, wait: float) -> list[int]:
    """Broker timestamps of inbox records written after since_ms, once expected arrived."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    consumer.subscribe(pattern=re.compile(r"^out\..*\.v1$"))
    await consumer.start()
    stamps: list[int] = []
    try:
        deadline = time.monotonic() + wait
        while len(stamps) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                stamps += [r.timestamp for r in records if r.timestamp >= since_ms]
    finally:
        await consumer.stop()
    return sorted(stamps)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        process = subprocess.Popen([HUB, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_healthy(f"http://127.0.0.1:{env['HUB_HTTP_PORT']}/healthz", process, log)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


class InboxWatch:
    """When records first reach the client from the inboxes matching pattern (its clock),
    by mark(record), so the client decodes nothing.

    A long poll answers as soon as a record arrives (fetch.min.bytes 1), so waiting up
    to 500 ms for one costs no latency; polling every 5 ms cost the broker ~0.35 core.
    """

    def __init__(self, bootstrap: str, pattern: str, mark: Callable[[Any], Hashable]) -> None:
        self.mark = mark
        self.arrived: dict[Any, float] = {}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="latest",
            fetch_max_wait_ms=500,
        )
        self.consumer.subscribe(pattern=re.compile(pattern))
        self.watcher: asyncio.Task[None] | None = None

    async def start(self) -> dict[Any, float]:
        """Watch from now on; the arrivals, filled in as records come."""
        await self.consumer.start()
        await asyncio.sleep(3)  # the pattern subscription settles on every inbox
        self.watcher = asyncio.create_task(self._watch())
        return self.arrived

    async def _watch(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self.arrived.setdefault(self.mark(record), now)

    async def stop(self, expected: Iterable[Any], wait: float = 30.0) -> None:
        """Stop once every expected mark arrived, or after wait seconds."""
        give_up = time.monotonic() + wait
        while set(expected) - set(self.arrived) and time.monotonic() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        if self.watcher is not None:
            self.watcher.cancel()
            await asyncio.gather(self.watcher, return_exceptions=True)
        await self.consumer.stop()


async def latency_run(
    base: str, bootstrap: str, tokens: dict[str, str], rate: float | None, seconds: float
) -> dict[str, Any]:
    """Orders and, a few requests later, their SIGNED events, over HTTP: open loop at
    rate, or closed loop (16 requests in flight) when rate is None, to find the most the
    worker takes in *and* routes (records / time until the last one is in an inbox).

    A record is matched in the inboxes by its key (the order id) and its kind, so the
    client decodes nothing; the first inbox to have it counts.
    """
    sent_at: dict[tuple[bytes, bytes], float] = {}
    statuses: dict[int, int] = {}
    inboxes = InboxWatch(
        bootstrap,
        r"^out\.(street|dept)-.*\.v1$",
        lambda record: (record.key, dict(record.headers).get("hub.kind", b"")),
    )
    arrived = await inboxes.start()
    async with aiohttp.ClientSession() as session:

        async def post(kind: str, body: dict[str, Any], party: str, key: str) -> None:
            mark = (key.encode(), kind.encode())
            sent_at[mark] = time.time()
            async with session.post(
                f"{base}/v1/records/{kind}",
                json=body,
                headers={"Authorization": f"Bearer {tokens[party]}"},
            ) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if answer.status != 202:
                    sent_at.pop(mark, None)

        rng = random.Random(11)  # noqa: S311 - a reproducible mix, not a secret
        pending: list[tuple[str, str]] = []
        sent = 0

        async def next_request() -> None:
            nonlocal sent
            sent += 1
            if sent % 2 == 1 or len(pending) < 5:
                issuer, recipient = rng.choice(STREETS), rng.choice(DEPARTMENTS)
                body = _order(issuer, recipient, datetime.now(UTC), "latency")
                order_id = str(derive_record_id(issuer, body["source_id"]))
                pending.append((order_id, recipient))
                await post("order", body, issuer, order_id)
            else:
                order_id, recipient = pending.pop(0)
                await post(
                    "order-event", _event(order_id, "SIGNED", recipient, {}), recipient, order_id
                )

        start = time.monotonic()
        if rate is None:

            async def user() -> None:
                while time.monotonic() - start < seconds:
                    await next_request()

            await asyncio.gather(*(user() for _ in range(16)))
        else:
            tasks = []
            while time.monotonic() - start < seconds:
                await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
                tasks.append(asyncio.create_task(next_request()))
            await asyncio.gather(*tasks)
        wall_start = time.time() - (time.monotonic() - start)
    await inboxes.stop(sent_at)
    latencies = sorted((arrived[k] - sent_at[k]) * 1000 for k in sent_at if k in arrived)
    last = max((arrived[k] for k in sent_at if k in arrived), default=time.time())
    return {
        "rate": rate,
        "routed_per_s": len(latencies) / max(0.001, last - wall_start),
        "requests": sent,
        "delivered": len(latencies),
        "lost": len(set(sent_at) - set(arrived)),
        "statuses": statuses,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders in the backlog")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run length")
    parser.add_argument("--json", default=None, help="also write results to this JSON file")
    args = parser.parse_args()

    own_broker = "HUB_KAFKA_BOOTSTRAP" not in os.environ
    bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP", f"127.0.0.1:{BENCH_PORT}")
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-dispatch-"))
    if own_broker:
        subprocess.run([KAFKA_SH, "reset", "--port", BENCH_PORT], check=True, capture_output=True)
        subprocess.run([KAFKA_SH, "start", "--port", BENCH_PORT], check=True)
    base_env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
        "HUB_DATA_DIR": str(workdir),
        "HUB_GATEWAY_RATE": "1000000",
        "HUB_GATEWAY_BURST": "1000000",
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_DEADLINE_SWEEP_SECONDS": "3600",
    }
    summary: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count()}
    rounds: list[dict[str, float]] = []
    try:
        for command in (["topics", "apply"], ["reference", "load"]):
            subprocess.run([HUB, *command], env=base_env, check=True, capture_output=True)
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}: writing {args.orders} orders and their stories ...")
            written = asyncio.run(prefill(bootstrap, args.orders))
            port = free_port()
            # a fresh group reads the whole topic; only this round's records are counted
            env = {**base_env, "HUB_HTTP_PORT": str(port), "HUB_APP_ID": f"bench-d-{port}"}
            since = int(time.time() * 1000)
            worker = start_worker(env, workdir / f"worker-{round_no}.log")
            cpu_before = _cpu(worker.pid)
            # every order reaches its recipient, every event its issuer and recipient
            expected = args.orders * (1 + 2 * len(STORY)) * (round_no + 1)
            stamps = asyncio.run(inbox_span(bootstrap, expected, since, wait=600))
            cpu = _cpu(worker.pid) - cpu_before
            stop_worker(worker)
            consumed = written * (round_no + 1)
            span = max(1, stamps[-1] - stamps[0]) / 1000 if stamps else float("nan")
            rounds.append(
                {
                    "records": consumed,
                    "deliveries": len(stamps),
                    "seconds": span,
                    "records_per_s": consumed / span,
                    "worker_cpu_s": cpu,
                }
            )
            print(
                f"  {consumed} records ({len(stamps)} inbox writes) in {span:.1f} s: "
                f"{consumed / span:,.0f} records/s, worker cpu {cpu:.1f} s"
            )
        rates = [r["records_per_s"] for r in rounds]
        summary["throughput"] = {
            "median": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "rounds": rounds,
        }
        port = free_port()
        env = {**base_env, "HUB_HTTP_PORT": str(port), "HUB_APP_ID": f"bench-latency-{port}"}
        tokens = {
            party: subprocess.run(
                [HUB, "tokens", "issue", party], env=env, check=True, capture_output=True, text=True
            ).stdout.strip()
            for party in STREETS + DEPARTMENTS
        }
        worker = start_worker(env, workdir / "worker-latency.log")
        try:
            print("latency: catching up on the backlog ...")
            expected = args.orders * (1 + 2 * len(STORY)) * args.rounds
            asyncio.run(inbox_span(bootstrap, expected, 0, wait=600))
            time.sleep(5)
            url = f"http://127.0.0.1:{port}"
            print(f"HTTP in and routed, as fast as it goes, for {args.seconds:g} s ...")
            most = asyncio.run(latency_run(url, bootstrap, tokens, None, args.seconds))
            summary["http_max"] = most
            time.sleep(3)
            half = most["routed_per_s"] / 2
            print(f"latency: {half:,.0f} requests/s over HTTP for {args.seconds:g} s ...")
            summary["latency"] = asyncio.run(
                latency_run(url, bootstrap, tokens, half, args.seconds)
            )
        finally:
            stop_worker(worker)
    finally:
        if own_broker:
            subprocess.run([KAFKA_SH, "stop", "--port", BENCH_PORT], capture_output=True)
    throughput, latency = summary["throughput"], summary["latency"]
    print(
        f"dispatch benchmark, one worker, {os.cpu_count()} cores: "
        f"{throughput['median']:,.0f} order records/s median "
        f"(min {throughput['min']:,.0f}, max {throughput['max']:,.0f}, {args.rounds} rounds "
        f"of {args.orders} orders x {1 + len(STORY)} records)"
    )
    print(
        f"HTTP publish and route, closed loop: {summary['http_max']['routed_per_s']:,.0f} "
        f"records/s into inboxes (p50 {summary['http_max']['p50_ms']:.0f} ms under full load)"
    )
    print(
        f"end-to-end HTTP publish -> recipient inbox at {latency['rate']:,.0f} req/s "
        "(half of that): "
        f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
        f"({latency['delivered']} delivered, {latency['lost']} missing, "
        f"HTTP statuses {latency['statuses']})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    sys.exit(0)


if __name__ == "__main__":
    main()
