"""The hub's benchmark suite (`make bench`): Kafka's ceiling, raw client loops and the hub,
on the same realistic records, against one local broker, in one go.

Records: native `urban-case` records of the urban-management department (数字城管案件, the
department's own JSON, built from the sample in its mapping spec) with unique native
ids, in two sizes: small (~220 B, no optional fields, a few words of description) and
large (~1 KB, coordinates, reporter and a long description). The hub maps each into a
canonical clue (Avro, ~17 fields), which its dispatch engine turns into an ASSIGNMENT
order for the street where it happened.

Cases, each size, every round (B* are baselines, H* and L1 the hub):
  B0  Kafka's ProducerPerformance / ConsumerPerformance (same jars as the broker, the
      records as payload file): the broker's ceiling on this machine.
  B1  a kafka-python consume -> produce loop (acks=all, linger 5 ms), own process.
  B2  the same loop with aiokafka (the client Faust uses), own process.
  B3  mapping + validation + Avro encoding alone, no Kafka, own process.
  B4  the B2 loop as a Faust agent (the stream framework the hub's worker runs on),
      own process; B4-table the same with one table write per record. No hub code:
      one hop of H1's pipeline costs at least this.
  B5  the hub's own work on a record across H1's three hops, no Kafka, own process:
      B3, then the clue decoded, its ASSIGNMENT built and encoded, the order decoded,
      its view and credits made and JSON-encoded. B4 and B5 give H1's floor on this
      stack: 1 / (3 / B4 + (1 / B4-table - 1 / B4) + 1 / B5).
  H1  a fresh `hub worker` normalising and routing a pre-filled backlog of native
      records: raw.dept-urban.v1 -> enf.clue.v1 -> enf.order.v1 -> out.<street>.v1;
      N / (last inbox write - first canonical write), broker timestamps.
  H2  HTTP publish (POST /v1/records/clue, the canonical clues of the same records,
      closed loop) through the gateway of that worker, against a no-op aiohttp handler.
  L1  after the rounds, on a fresh worker warmed up with one request of each kind: its
      CPU at rest for 10 s, then end-to-end latency HTTP publish -> recipient inbox, open
      loop at 100 and at 300 requests/s (--l1-rate), each after --l1-warmup seconds of the
      same load not counted (steady state), p50/p99: bench_dispatch.latency_run
      (orders and their SIGNED events), then the same records as H1 posted to
      POST /v1/native/urban-case (native -> raw -> clue -> ASSIGNMENT -> street inbox),
      with the worker's CPU per native record.
  H3  once, after L1: a worker restoring 100,000 order views (`bench_history`), then
      GET /metrics, GET /v1/assessment and its deadline sweep timed: what its readers
      cost with a long history (targets 50, 100 and 50 ms).

Rounds interleave cases and baselines: for each round B0, B1, B2, B3, B4, B5, H1, H2
(no-op then hub); then L1, then H3. Reported: median, min and max of the rounds, CPU
seconds of each process (the loop, the JVM tool, the worker, the no-op server, the
client, the broker), every target of `TARGETS` with its value and whether it was met
(H1 rate and H1/B4-table, L1 p99 at 100 and 300 requests/s, worker CPU per trickle
record, the idle worker, H2/no-op, H3's three), and H1 against its floor. Written to
OUT/latest.json (everything) and OUT/latest.md (the tables), printed at the end.

    .venv/bin/python -m tests.bench.suite [--records N] [--rounds 3] [--out bench/results]
                                          [--only B0,B1,B2,B3,B4,B5,H1,H2,L1,H3] ...

Starts its own broker on --port (default 29393; reset, started, stopped at the end)
unless HUB_KAFKA_BOOTSTRAP is set. Each hub worker has a fresh app id whose consumer group
is given committed offsets at the topics' ends before the backlog is written, so it
reads only its own round's records, never earlier rounds' or other cases' traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTP
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    CoordinatorNotAvailableError,
    NotCoordinatorError,
    TopicAlreadyExistsError,
)
from kafka.structs import OffsetAndMetadata

from hub.records import KINDS, derive_record_id
from hub.reference import load_seed_reference
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from tests.bench.bench_dispatch import (
    DEPARTMENTS,
    STREETS,
    InboxWatch,
    _event,
    _order,
    latency_run,
    stop_worker,
)
from tests.bench.bench_gateway import HUB, KAFKA_SH, _cpu, _wait_healthy, closed_loop
from tests.bench.bench_history import fill_changelog, measure
from tests.bench.loops import (
    NATIVE_KIND,
    NATIVE_KIND_HEADER,
    PARTY,
    SIZES,
    canonical_clue,
    native_records,
    spec_and_sample,
)
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
LIBS = ROOT / "deploy" / "kafka" / ".cache" / "libs"
CASES = ("B0", "B1", "B2", "B3", "B4", "B5", "H1", "H2", "L1", "H3")
RAW_TOPIC = f"raw.{PARTY}.v1"
CLUE_TOPIC = KINDS["clue"].topic
ORDER_TOPIC = KINDS["order"].topic
DLQ_TOPIC = "hub.dlq.v1"
OUT_TOPIC = "bench.out"
TARGETS = {  # the targets (issues 12 and 20): name -> (comparison, limit, unit)
    "H1 records/s, one worker": (">=", 5000.0, ""),
    "H1/B4-table": (">=", 0.6, ""),
    "H1/B1": (">=", 1.0, ""),
    "H1/B2": (">=", 0.5, ""),
    "H2/no-op": (">=", 0.5, ""),
    "L1 p99 (orders + events) at 100/s": ("<=", 50.0, "ms"),
    "L1 p99 (native records) at 100/s": ("<=", 50.0, "ms"),
    "L1 p99 (orders + events) at 300/s": ("<=", 100.0, "ms"),
    "L1 p99 (native records) at 300/s": ("<=", 100.0, "ms"),
    "worker CPU per native record at 100/s": ("<=", 1.5, "ms"),
    "idle worker": ("<=", 2.0, "% of a core"),
    "H3 /metrics scrape, 100k orders": ("<=", 50.0, "ms"),
    "H3 /v1/assessment, 100k orders": ("<=", 100.0, "ms"),
    "H3 deadline sweep, 100k orders": ("<=", 50.0, "ms"),
}
L1_RATES = (100.0, 300.0)  # requests/s of the L1 targets
FIGURES = {  # case ids whose median is a target's value -> the target
    "H3-scrape": "H3 /metrics scrape, 100k orders",
    "H3-assessment": "H3 /v1/assessment, 100k orders",
    "H3-sweep": "H3 deadline sweep, 100k orders",
    "L1@100-p99": "L1 p99 (orders + events) at 100/s",
    "L1n@100-p99": "L1 p99 (native records) at 100/s",
    "L1@300-p99": "L1 p99 (orders + events) at 300/s",
    "L1n@300-p99": "L1 p99 (native records) at 300/s",
    "L1n@100-cpu": "worker CPU per native record at 100/s",
    "idle": "idle worker",
}
# table labels by case; a case id is "<case>[-<part>][/<size>]"
LABELS = {
    "B0-produce": "B0 Kafka ProducerPerformance (acks=all, linger 5 ms)",
    "B0-consume": "B0 Kafka ConsumerPerformance",
    "B1": "B1 kafka-python consume → produce",
    "B2": "B2 aiokafka consume → produce",
    "B3": "B3 map + validate + Avro encode (no Kafka)",
    "B4": "B4 Faust agent consume → produce (no hub code)",
    "B4-table": "B4 the same + one table write per record",
    "B5": "B5 hub's work on a record, H1's three hops (no Kafka)",
    "H1": "H1 hub: raw backlog → canonical → inbox",
    "H2-noop": "H2 baseline: no-op aiohttp handler",
    "H2-hub": "H2 hub gateway POST /v1/records/clue",
    "L1-p50": "L1 HTTP order/event publish → inbox (bench_dispatch mix), p50",
    "L1-p99": "L1 HTTP order/event publish → inbox (bench_dispatch mix), p99",
    "L1n-p50": "L1 HTTP native record POST /v1/native → street inbox, p50",
    "L1n-p99": "L1 HTTP native record POST /v1/native → street inbox, p99",
    "L1n-cpu": "L1 worker CPU per native record",
    "idle": "worker at rest after L1's warm-up: CPU, 10 s",
    "H3-index": "H3 the order indexes' work per change of an open order (no Kafka)",
    "H3-scrape": "H3 GET /metrics on a worker holding N orders (median of 30)",
    "H3-assessment": "H3 GET /v1/assessment as justice, N orders (median of 30)",
    "H3-sweep": "H3 deadline sweep's loop time, N orders (mean over 10 s)",
}

_T0 = time.monotonic()


def clue_key(native_id: bytes) -> bytes:
    """Key of the canonical clue the normaliser makes of a native record."""
    return str(derive_record_id(PARTY, native_id.decode())).encode()


def order_key(native_id: bytes) -> bytes:
    """Key (order id) of the ASSIGNMENT the dispatch engine makes of that clue."""
    return str(derive_record_id("hub", f"assignment/{clue_key(native_id).decode()}")).encode()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _T0:5.0f}s] {message}", flush=True)


# ------------------------------------------------------------------------ processes


def measured(command: list[str], timeout: float = 600) -> tuple[str, float, float]:
    """Run command to its end: (stdout, CPU seconds of the process and its children, wall
    seconds). The CPU time comes from the kernel (wait4), not from the process itself."""
    with tempfile.TemporaryFile() as errors:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            assert process.stdout is not None
            out = process.stdout.read()
            process.stdout.close()
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        if process.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(command[:6])} ... failed ({process.returncode}):\n{tail}")
    return out.decode(errors="replace"), usage.ru_utime + usage.ru_stime, wall


def _wait_ready(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a local worker
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    progress(f"warning: {url} not ready after {seconds:.0f} s; measuring anyway")


def _rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _machine() -> dict[str, Any]:
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka.version>(.*?)</kafka.version>", pom)
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "kafka": kafka.group(1) if kafka else "?",
        "python": platform.python_version(),
        "java": subprocess.run(
            ["java", "-version"], capture_output=True, text=True, check=False
        ).stderr.splitlines()[0],
        "clients": {
            name: metadata.version(name)
            for name in ("aiokafka", "kafka-python", "faust-streaming", "fastavro")
        },
    }


async def native_latency(
    base: str, bootstrap: str, token: str, rate: float, seconds: float, tag: str = "L1N"
) -> dict[str, Any]:
    """Open loop at rate: native records posted to /v1/native/<kind>; the time from
    sending each to its ASSIGNMENT arriving in the street's inbox (matched by order id,
    which follows from the native id), as bench_dispatch.latency_run measures orders.
    tag and the rate make the native ids, so that each loop's records are new."""
    records = native_records(int(rate * seconds) + 100, "small", f"{tag}{rate:g}")
    sent_at: dict[bytes, float] = {}
    statuses: dict[int, int] = {}
    inboxes = InboxWatch(bootstrap, r"^out\.street-.*\.v1$", lambda record: record.key)
    arrived = await inboxes.start()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(native_id: bytes, body: bytes) -> None:
            key = order_key(native_id)
            sent_at[key] = time.time()
            async with session.post(f"{base}/v1/native/{NATIVE_KIND}", data=body) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if answer.status != 202:
                    sent_at.pop(key, None)

        tasks = []
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds and sent < len(records):
            await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(*records[sent])))
            sent += 1
        await asyncio.gather(*tasks)
    await inboxes.stop(sent_at)
    latencies = sorted((arrived[k] - sent_at[k]) * 1000 for k in sent_at if k in arrived)
    return {
        "rate": rate,
        "requests": sent,
        "delivered": len(latencies),
        "lost": len(set(sent_at) - set(arrived)),
        "statuses": statuses,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan"),
    }


def loop_lag(base: str, token: str) -> dict[str, float]:
    """The worker's ``hub_event_loop_lag_seconds`` histogram: cumulative count per bucket
    edge ("0.025" = woken at most 25 ms late), as /metrics has it now."""
    headers = {"Authorization": f"Bearer {token}"}
    asking = urllib.request.Request(f"{base}/metrics", headers=headers)  # noqa: S310 - http only
    with urllib.request.urlopen(asking, timeout=10) as answer:  # noqa: S310 - the local worker
        text = answer.read().decode()
    buckets = {}
    for line in text.splitlines():
        match = re.match(r'hub_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if match:
            buckets[match.group(1)] = float(match.group(2))
    return buckets


async def warm_up(base: str, tokens: dict[str, str]) -> dict[str, int]:
    """One request of each kind the measurements send, one at a time, so the worker's
    Avro writers (audit, clue, order, order-event) are registered before the load.

    A cold worker registers a kind's schema on first use; concurrent first uses all
    register, one after another under the embedded registry's lock (~0.5 s each), which
    stalls the gateway (503 after HUB_GATEWAY_TIMEOUT) and the agents for tens of seconds.
    """
    statuses: dict[int, int] = {}
    street, department = STREETS[0], DEPARTMENTS[0]
    order = _order(street, department, datetime.now(UTC), "warmup")
    order_id = str(derive_record_id(street, order["source_id"]))
    native_id, native = native_records(1, "small", f"W{int(time.time()) % 100000}")[0]
    requests = [
        ("/v1/native/" + NATIVE_KIND, PARTY, native),
        ("/v1/records/order", street, json.dumps(order).encode()),
        (
            "/v1/records/order-event",
            department,
            json.dumps(_event(order_id, "SIGNED", department, {})).encode(),
        ),
    ]
    async with aiohttp.ClientSession() as session:
        for path, party, body in requests:
            if party not in tokens:
                continue
            headers = {"Authorization": f"Bearer {tokens[party]}"}
            headers["Content-Type"] = "application/json"
            async with session.post(base + path, data=body, headers=headers) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            await asyncio.sleep(1)  # the agents' first records register their writers too
    return statuses


# ------------------------------------------------------------------------ the suite


class Suite:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.only = set(args.only)
        self.sizes: list[str] = args.sizes
        self.own_broker = "HUB_KAFKA_BOOTSTRAP" not in os.environ
        self.bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP", f"127.0.0.1:{args.port}")
        self.workdir = Path(tempfile.mkdtemp(prefix="hub-bench-suite-"))
        self.env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_DATA_DIR": str(self.workdir),
            "HUB_GATEWAY_RATE": "1000000",
            "HUB_GATEWAY_BURST": "1000000",
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_DEADLINE_SWEEP_SECONDS": "3600",
        }
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.tokens: dict[str, str] = {}
        self.noop: tuple[int, subprocess.Popen[bytes]] | None = None
        self.payload_files: dict[str, Path] = {}
        self.broker_pid: int | None = None
        self.spec, _ = spec_and_sample()
        self.reference = load_seed_reference()

    # -- plumbing

    def broker_cpu(self) -> float:
        if self.broker_pid is None:
            return 0.0
        try:
            return _cpu(self.broker_pid)
        except OSError:
            return 0.0

    def record(self, case: str, size: str | None, value: float, unit: str, **extra: Any) -> None:
        key = f"{case}/{size}" if size else case
        self.runs.setdefault(key, []).append({"value": value, "unit": unit, **extra})

    def hub(self, *command: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [HUB, *command], env=env or self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"hub {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="hub-bench-suite")

    def ends(self, pattern: str) -> dict[TopicPartition, int]:
        """End offsets of every partition of the topics whose names match pattern."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        try:
            topics = sorted(t for t in consumer.topics() if re.fullmatch(pattern, t))
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)
            ]
            return dict(consumer.end_offsets(partitions))
        finally:
            consumer.close()

    def fresh_group(self, prefix: str) -> tuple[str, dict[TopicPartition, int]]:
        """A new app id whose consumer group starts at today's ends of every topic a
        worker reads (raw.*, enf.*), and those ends plus the inboxes' and the DLQ's."""
        port = free_port()
        app_id = f"{prefix}-{port}"
        ends = self.ends(r"(raw|enf|out)\..+\.v1|hub\.dlq\.v1")
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1)
            for tp, offset in ends.items()
            if tp.topic.startswith(("raw.", "enf."))
        }
        admin = self.admin()
        try:
            for attempt in range(60):  # a fresh broker creates __consumer_offsets first
                try:
                    answer = admin.alter_group_offsets(app_id, offsets)
                    break
                except (CoordinatorNotAvailableError, NotCoordinatorError):
                    if attempt == 59:
                        raise
                    time.sleep(0.5)
        finally:
            admin.close()
        failed = {tp: err for tp, err in answer.items() if getattr(err, "errno", 0)}
        if failed:
            raise SystemExit(f"could not set the offsets of {app_id}: {failed}")
        return app_id, ends

    def start_hub(self, app_id: str, name: str) -> tuple[int, subprocess.Popen[bytes]]:
        (hub,) = self.start_hubs(app_id, name, 1)
        return hub

    # -- setup and teardown

    def setup(self) -> None:
        args = self.args
        if self.own_broker:
            if _port_open(args.port):
                raise SystemExit(
                    f"port {args.port} is in use (someone else's broker?); pick another with "
                    "--port, or point HUB_KAFKA_BOOTSTRAP at a broker to use it"
                )
            progress(f"broker: fresh Kafka on 127.0.0.1:{args.port}")
            subprocess.run(
                [KAFKA_SH, "reset", "--port", str(args.port)], check=True, capture_output=True
            )
            subprocess.run(
                [KAFKA_SH, "start", "--port", str(args.port)], check=True, capture_output=True
            )
            pid_file = ROOT / "deploy" / "kafka" / ".data" / str(args.port) / "node-1" / "kafka.pid"
            self.broker_pid = int(pid_file.read_text().strip())
        else:
            progress(f"broker: HUB_KAFKA_BOOTSTRAP={self.bootstrap} (its CPU is not measured)")
        progress(f"logs of the workers in {self.workdir}")
        progress("hub topics apply, schemas register, reference load")
        self.hub("topics", "apply")
        self.hub("schemas", "register")
        self.hub("reference", "load")
        if self.only & {"H2", "L1", "H3"}:
            for party in [PARTY, *STREETS, *DEPARTMENTS, "ops", "justice"]:
                self.tokens[party] = self.hub("tokens", "issue", party).strip()
        topics = [f"bench.b0.{s}" for s in self.sizes] + [f"bench.in.{s}" for s in self.sizes]
        admin = self.admin()
        try:
            for name in [*topics, OUT_TOPIC]:
                try:
                    admin.create_topics([NewTopic(name, 6, 1)])
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        for size in self.sizes:
            payloads = native_records(2000, size, "B0")
            path = self.workdir / f"payload-{size}.txt"
            path.write_bytes(b"\n".join(value for _, value in payloads))
            self.payload_files[size] = path
        if self.only & {"B1", "B2", "B4"}:
            for size in self.sizes:
                progress(f"filling bench.in.{size} with {args.loop_records} records")
                asyncio.run(self.prefill(f"bench.in.{size}", args.loop_records, size, "IN"))
        self.describe_records()

    def describe_records(self) -> None:
        """Sizes of the native and canonical records, and the canonical field count."""
        serde = AvroSerde(MemoryRegistry())
        writer = asyncio.run(serde.writer(KINDS["clue"]))

        def leaves(schema: Any) -> int:
            if isinstance(schema, list):
                return max(leaves(s) for s in schema)
            if isinstance(schema, dict) and schema.get("type") == "record":
                return sum(leaves(f["type"]) for f in schema["fields"])
            return 1

        def filled(value: Any) -> int:
            if isinstance(value, dict):
                return sum(filled(v) for v in value.values())
            return 0 if value in (None, []) else 1

        self.records: dict[str, Any] = {
            "native_kind": NATIVE_KIND,
            "party": PARTY,
            "canonical": self.spec.canonical,
            "canonical_fields": leaves(KINDS["clue"].schema()),
        }
        for size in self.sizes:
            sample = native_records(500, size, "SZ")
            natives = [len(v) for _, v in sample]
            models = [canonical_clue(v, self.spec, self.reference) for _, v in sample]
            avro = [len(serde.encode_with(writer, m)) for m in models]
            body = [
                len(json.dumps(self._clue_json(m, "X" * 16), ensure_ascii=False).encode())
                for m in models
            ]
            self.records[size] = {
                "native_bytes": statistics.mean(natives),
                "native_min": min(natives),
                "native_max": max(natives),
                "canonical_avro_bytes": statistics.mean(avro),
                "canonical_json_bytes": statistics.mean(body),
                "canonical_fields_filled": statistics.mean(
                    filled(m.model_dump(mode="json")) for m in models
                ),
            }
            row = self.records[size]
            progress(
                f"records {size}: native {row['native_bytes']:.0f} B "
                f"→ canonical clue {row['canonical_avro_bytes']:.0f} B Avro "
                f"({self.records['canonical_fields']} fields, "
                f"{row['canonical_fields_filled']:.0f} filled)"
            )

    @staticmethod
    def _clue_json(model: Any, source_id: str) -> dict[str, Any]:
        body = model.model_dump(mode="json", exclude={"record_id", "received_at"})
        body["source_id"] = source_id
        return body

    async def prefill(self, topic: str, count: int, size: str, tag: str) -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
        )
        await producer.start()
        try:
            headers = [(NATIVE_KIND_HEADER, NATIVE_KIND.encode())]
            for key, value in native_records(count, size, tag):
                await producer.send(topic, key=key, value=value, headers=headers)
            await producer.flush()
        finally:
            await producer.stop()
        return count

    def teardown(self) -> None:
        if self.noop is not None:
            self.noop[1].terminate()
            self.noop[1].wait(timeout=30)
        if self.own_broker:
            subprocess.run(
                [KAFKA_SH, "stop", "--port", str(self.args.port)], capture_output=True, check=False
            )

    # -- cases

    def b0(self, r: int, size: str) -> None:
        java = ["java", "-Xmx256m", "-cp", f"{LIBS}/*"]
        topic = f"bench.b0.{size}"
        count = self.args.b0_records if size == "small" else self.args.b0_records // 3
        broker = self.broker_cpu()
        out, cpu, wall = measured(
            [
                *java,
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                topic,
                "--num-records",
                str(count),
                "--payload-file",
                str(self.payload_files[size]),
                "--throughput",
                "-1",
                "--producer-props",
                f"bootstrap.servers={self.bootstrap}",
                "acks=all",
                "linger.ms=5",
            ]
        )
        summary = [line for line in out.splitlines() if " records sent, " in line][-1]
        found = re.search(r"records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency", summary)
        if not found:
            raise SystemExit(f"ProducerPerformance: cannot read {summary!r}")
        rate = float(found.group(1))
        broker = self.broker_cpu() - broker
        self.record(
            "B0-produce",
            size,
            rate,
            "records/s",
            records=count,
            avg_latency_ms=float(found.group(2)),
            cpu={"java": cpu, "broker": broker},
            wall_s=wall,
        )
        progress(
            f"  B0 produce {size}: {rate:,.0f} records/s ({count} records, java cpu {cpu:.1f} s)"
        )
        broker = self.broker_cpu()
        out, cpu, wall = measured(
            [
                *java,
                "org.apache.kafka.tools.ConsumerPerformance",
                "--bootstrap-server",
                self.bootstrap,
                "--topic",
                topic,
                "--messages",
                str(count),
            ]
        )
        lines = [line for line in out.splitlines() if line.strip()]
        header = [
            h.strip()
            for h in lines[lines.index(next(x for x in lines if "nMsg.sec" in x))].split(",")
        ]
        values = dict(zip(header, (v.strip() for v in lines[-1].split(",")), strict=False))
        rate = float(values["nMsg.sec"])
        broker = self.broker_cpu() - broker
        self.record(
            "B0-consume",
            size,
            rate,
            "records/s",
            records=int(values["data.consumed.in.nMsg"]),
            fetch_records_per_s=float(values["fetch.nMsg.sec"]),
            rebalance_ms=float(values["rebalance.time.ms"]),
            cpu={"java": cpu, "broker": broker},
            wall_s=wall,
        )
        progress(
            f"  B0 consume {size}: {rate:,.0f} records/s "
            f"(fetch only {float(values['fetch.nMsg.sec']):,.0f}/s, java cpu {cpu:.1f} s)"
        )

    def loop(self, case: str, size: str, table: bool = False) -> None:
        command = [sys.executable, "-m", "tests.bench.loops", case.lower()]
        offline = case in ("B3", "B5")
        if offline:
            command += ["--size", size, "--records", str(self.args.loop_records)]
            command += ["--data-dir", str(self.workdir)]
        else:
            command += ["--bootstrap", self.bootstrap, "--topic", f"bench.in.{size}"]
            command += ["--out", OUT_TOPIC, "--records", str(self.args.loop_records)]
        if table:
            command.append("--table")
            case = f"{case}-table"
        broker = self.broker_cpu()
        out, cpu, wall = measured(command)
        broker = self.broker_cpu() - broker
        result = json.loads(out.strip().splitlines()[-1])
        cpus = {"loop": cpu} if offline else {"loop": cpu, "broker": broker}
        self.record(
            case,
            size,
            result["records_per_s"],
            "records/s",
            records=result["records"],
            seconds=result["seconds"],
            loop_cpu_in_timed_part_s=result["loop_cpu_s"],
            cpu=cpus,
            wall_s=wall,
            **{k: v for k, v in result.items() if k in ("failed", "avro_bytes", "view_bytes")},
        )
        progress(
            f"  {case} {size}: {result['records_per_s']:,.0f} records/s "
            f"({result['records']} in {result['seconds']:.1f} s, process cpu {cpu:.1f} s)"
        )

    def start_hubs(
        self, app_id: str, name: str, count: int, env: dict[str, str] | None = None
    ) -> list[tuple[int, subprocess.Popen[bytes]]]:
        """count workers of one app, started together so that they join the group in one
        rebalance instead of the first one starting alone; env: settings of their own."""
        started = []
        for index in range(count):
            port = free_port()
            env = {**self.env, **(env or {}), "HUB_APP_ID": app_id, "HUB_HTTP_PORT": str(port)}
            log = self.workdir / f"{name}-{index + 1}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [HUB, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            started.append((port, process, log))
        try:
            for port, process, log in started:
                _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, log)
        except BaseException:
            for _, process, _ in started:  # a failed start leaves no worker behind
                process.kill()
                process.wait()
            raise
        return [(port, process) for port, process, _ in started]

    def h1(
        self, r: int, size: str, keep: bool, workers: int = 1
    ) -> tuple[int, subprocess.Popen[bytes]] | None:
        count = self.args.records
        case = "H1" if workers == 1 else f"H1x{workers}"
        tag = f"R{r}{size[0].upper()}"
        records = native_records(count, size, tag)
        clue_keys = {clue_key(k) for k, _ in records}
        order_keys = {order_key(k) for k, _ in records}
        app_id, ends = self.fresh_group(f"bench-{case.lower()}-r{r}-{size}")
        if workers == 1:
            asyncio.run(self.prefill(RAW_TOPIC, count, size, tag))
            progress(f"  {case} {size}: {count} native records in {RAW_TOPIC}; starting {app_id}")
        started = time.time()
        hubs = self.start_hubs(app_id, f"{case.lower()}-r{r}-{size}", workers)
        healthy = time.time()
        if workers > 1:
            # Workers that join one by one rebalance while the backlog flows (the first
            # one starts alone); so they settle on their partitions first, and the backlog
            # is written at ~50k records/s, far faster than they route it.
            for port, _ in hubs:
                _wait_ready(f"http://127.0.0.1:{port}/readyz")
            progress(f"  {case} {size}: {workers} workers of {app_id} ready; writing the backlog")
            started = healthy = time.time()
            cpu0, broker0 = sum(_cpu(w.pid) for _, w in hubs), self.broker_cpu()
            asyncio.run(self.prefill(RAW_TOPIC, count, size, tag))
        else:
            cpu0, broker0 = sum(_cpu(w.pid) for _, w in hubs), self.broker_cpu()
        seen = asyncio.run(self.watch_h1(ends, clue_keys, order_keys))
        cpu = sum(_cpu(w.pid) for _, w in hubs) - cpu0
        broker = self.broker_cpu() - broker0
        delivered = len(seen["inbox"])
        if delivered and seen["clues"]:
            first_clue = min(seen["clues"].values())
            last_inbox = max(seen["inbox"].values())
            span = max(1, last_inbox - first_clue) / 1000
            rate = delivered / span
        else:
            first_clue = last_inbox = 0
            span, rate = float("nan"), 0.0
        if delivered < count:
            note = (
                f"{case} round {r} {size}: only {delivered} of {count} records reached an inbox "
                f"({len(seen['clues'])} canonical, {seen['dlq']} dead-lettered)"
            )
            self.notes.append(note)
            progress("  warning: " + note)
        if seen["others"]:
            self.notes.append(
                f"{case} round {r} {size}: {seen['others']} canonical clues of other records were "
                "written meanwhile (an earlier backlog re-read, or someone else's traffic)"
            )
        if first_clue and first_clue / 1000 < healthy:
            self.notes.append(
                f"{case} round {r} {size}: records flowed {healthy - first_clue / 1000:.1f} s before "
                "/healthz answered; that part of the worker's CPU is not counted"
            )

        def done_after(stage: str) -> float:
            """Seconds from the first canonical write to the stage's last write."""
            stamps = seen[stage].values()
            return (max(stamps) - first_clue) / 1000 if stamps and first_clue else float("nan")

        stages = {stage: done_after(stage) for stage in ("clues", "orders", "inbox")}
        self.record(
            case,
            size,
            rate,
            "records/s",
            records=count,
            delivered=delivered,
            canonical=len(seen["clues"]),
            dead_lettered=seen["dlq"],
            other_canonical=seen["others"],
            seconds=span,
            stage_done_after_s=stages,
            orders=len(seen["orders"]),
            start_to_first_canonical_s=(first_clue / 1000 - started) if first_clue else None,
            cpu={"workers" if workers > 1 else "worker": cpu, "broker": broker},
        )
        progress(
            f"  {case} {size}: {rate:,.0f} records/s ({delivered} routed in {span:.1f} s: clues "
            f"written by {stages['clues']:.1f} s, orders by {stages['orders']:.1f} s; "
            f"worker cpu {cpu:.1f} s, broker {broker:.1f} s)"
        )
        if keep and workers == 1:
            return hubs[0]
        for _, worker in hubs:
            stop_worker(worker)
        return None

    async def watch_h1(
        self, ends: dict[TopicPartition, int], clue_keys: set[bytes], order_keys: set[bytes]
    ) -> dict[str, Any]:
        """Broker timestamps of this round's canonical clues and inbox deliveries (the
        first one of each record), and the records dead-lettered meanwhile."""
        wanted = [
            tp
            for tp in ends
            if tp.topic in (CLUE_TOPIC, ORDER_TOPIC, DLQ_TOPIC)
            or tp.topic.startswith("out.street-")
        ]
        # The stamps are the broker's, so the watcher may fetch lazily: large fetches at
        # most every 250 ms, instead of one per produce request of the worker that would
        # load the broker the worker is measured against.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_min_bytes=1 << 20,
            fetch_max_wait_ms=250,
        )
        await consumer.start()
        clues: dict[bytes, int] = {}
        orders: dict[bytes, int] = {}
        inbox: dict[bytes, int] = {}
        dlq = others = 0
        try:
            partitions = [AioTP(tp.topic, tp.partition) for tp in wanted]
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, ends[TopicPartition(tp.topic, tp.partition)])
            last_progress = time.monotonic()
            while len(inbox) < len(order_keys):
                batches = await consumer.getmany(timeout_ms=500, max_records=10000)
                before = len(clues) + len(orders) + len(inbox)
                for tp, records in batches.items():
                    for rec in records:
                        if tp.topic == CLUE_TOPIC:
                            if rec.key in clue_keys:
                                clues.setdefault(rec.key, rec.timestamp)
                            else:
                                others += 1
                        elif tp.topic == ORDER_TOPIC:
                            if rec.key in order_keys:
                                orders.setdefault(rec.key, rec.timestamp)
                        elif tp.topic == DLQ_TOPIC:
                            dlq += 1
                            if dlq == 1:
                                headers = {k: v[:200] for k, v in rec.headers}
                                progress(f"  warning: dead letter {headers}")
                        elif rec.key in order_keys:
                            inbox.setdefault(rec.key, rec.timestamp)
                if len(clues) + len(orders) + len(inbox) > before:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > self.args.stall_seconds:
                    break
        finally:
            await consumer.stop()
        return {"clues": clues, "orders": orders, "inbox": inbox, "dlq": dlq, "others": others}

    def h2(self, r: int, size: str, hub: tuple[int, subprocess.Popen[bytes]]) -> None:
        models = [
            canonical_clue(v, self.spec, self.reference) for _, v in native_records(500, size, "H2")
        ]
        bodies = [self._clue_json(m, "") for m in models]
        made = 0

        def make() -> bytes:
            nonlocal made
            made += 1
            body = bodies[made % len(bodies)]
            body["source_id"] = f"H2R{r}{size[0].upper()}-{os.getpid()}-{made}"
            return json.dumps(body, ensure_ascii=False).encode()

        assert self.noop is not None
        token = self.tokens[PARTY]
        asyncio.run(warm_up(f"http://127.0.0.1:{hub[0]}", {PARTY: token}))
        for name, (port, process) in (("H2-noop", self.noop), ("H2-hub", hub)):
            url = f"http://127.0.0.1:{port}/v1/records/clue"
            asyncio.run(closed_loop(url, token, 1.0, self.args.concurrency, make, 1))  # warm-up
            cpu0, broker0, client0 = _cpu(process.pid), self.broker_cpu(), time.process_time()
            result = asyncio.run(
                closed_loop(url, token, self.args.seconds, self.args.concurrency, make, 1)
            )
            cpus = {
                "server": _cpu(process.pid) - cpu0,
                "client": time.process_time() - client0,
                "broker": self.broker_cpu() - broker0,
            }
            self.record(
                name,
                size,
                result["records_per_s"],
                "records/s",
                errors=result["errors"],
                seconds=self.args.seconds,
                cpu=cpus,
            )
            if result["errors"]:
                self.notes.append(f"{name} round {r} {size}: {result['errors']} non-202 answers")
            progress(
                f"  {name} {size}: {result['records_per_s']:,.0f} requests/s "
                f"(errors {result['errors']}, server cpu {cpus['server']:.1f} s, "
                f"client {cpus['client']:.1f} s)"
            )

    def l1(self, rates: list[float]) -> None:
        """At each rate, two open loops on one fresh worker: bench_dispatch.latency_run
        (orders and their SIGNED events), then this suite's native records posted to
        /v1/native/urban-case (the H1 pipeline with HTTP in front). Before them, the
        worker's CPU at rest."""
        app_id, _ = self.fresh_group("bench-l1")
        port, worker = self.start_hub(app_id, "l1")
        base = f"http://127.0.0.1:{port}"
        seconds = self.args.latency_seconds
        try:
            _wait_ready(f"{base}/readyz")
            warmed = asyncio.run(warm_up(base, self.tokens))
            if set(warmed) != {202}:
                self.notes.append(f"L1 warm-up answers: {warmed}")
            time.sleep(5)
            cpu0, began = _cpu(worker.pid), time.monotonic()
            time.sleep(10)
            idle = (_cpu(worker.pid) - cpu0) / (time.monotonic() - began) * 100
            self.record("idle", None, idle, "% of a core")
            progress(f"idle worker: {idle:.1f} % of a core")
            for rate, case in [(rate, case) for rate in rates for case in ("L1", "L1n")]:
                what = "orders + SIGNED events" if case == "L1" else "native records"
                if self.args.l1_warmup > 0:
                    # steady state: the first seconds of a load on a fresh broker and worker
                    # run slower (p50 ~40 ms for ~3 s at 100/s: the broker's transaction
                    # paths not yet compiled by its JIT, the worker's first records of each
                    # kind and party), so they are run first, the same way, and not counted
                    progress(f"{case}: warming up at {rate:,.0f} requests/s for "
                             f"{self.args.l1_warmup:g} s (not counted)")
                    if case == "L1":
                        warm = latency_run(base, self.bootstrap, self.tokens, rate,
                                           self.args.l1_warmup)
                    else:
                        warm = native_latency(base, self.bootstrap, self.tokens[PARTY], rate,
                                              self.args.l1_warmup, tag="W")
                    warmed_up = asyncio.run(warm)
                    extra_warm = {k: warmed_up[k] for k in ("p50_ms", "p99_ms", "lost")}
                progress(f"{case}: {what} at {rate:,.0f} requests/s for {seconds:g} s")
                cpu0, broker0, client0 = _cpu(worker.pid), self.broker_cpu(), time.process_time()
                lag0 = loop_lag(base, self.tokens["ops"])
                if case == "L1":
                    run = latency_run(base, self.bootstrap, self.tokens, rate, seconds)
                else:
                    run = native_latency(base, self.bootstrap, self.tokens[PARTY], rate, seconds)
                result = asyncio.run(run)
                cpus = {
                    "worker": _cpu(worker.pid) - cpu0,
                    "client": time.process_time() - client0,
                    "broker": self.broker_cpu() - broker0,
                }
                keep = ("rate", "requests", "delivered", "lost", "statuses")
                extra = {k: result[k] for k in keep}
                if self.args.l1_warmup > 0:
                    extra["warm_up"] = {"seconds": self.args.l1_warmup, **extra_warm}
                lag = {
                    edge: n - lag0.get(edge, 0)
                    for edge, n in loop_lag(base, self.tokens["ops"]).items()
                }
                extra["event_loop_lag"] = lag
                stalls = {
                    edge: n for edge, n in lag.items() if edge in ("0.025", "0.05", "0.1", "+Inf")
                }
                at = f"{case}@{rate:g}"
                self.record(f"{at}-p50", None, result["p50_ms"], "ms", cpu=cpus, **extra)
                self.record(f"{at}-p99", None, result["p99_ms"], "ms", cpu=cpus, **extra)
                if case == "L1n" and result["requests"]:
                    per = cpus["worker"] / result["requests"] * 1000
                    self.record(f"{at}-cpu", None, per, "ms", cpu=cpus, **extra)
                if result["lost"]:
                    self.notes.append(
                        f"{at}: {result['lost']} accepted records never reached an inbox"
                    )
                refused = sum(n for status, n in result["statuses"].items() if status != 202)
                if refused:
                    self.notes.append(
                        f"{at}: {refused} of {result['requests']} requests refused "
                        f"(HTTP statuses {result['statuses']})"
                    )
                progress(
                    f"{at}: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
                    f"({result['delivered']} delivered, {result['lost']} missing, "
                    f"statuses {result['statuses']}, worker cpu {cpus['worker']:.1f} s; event "
                    f"loop wakes at most 25/50/100 ms late, of all: {stalls})"
                )
                time.sleep(3)
        finally:
            stop_worker(worker)

    def h3(self) -> None:
        """The readers' costs on a worker holding a long history (`bench_history`)."""
        count = self.args.history_orders
        app_id, _ = self.fresh_group("bench-h3")
        _, per_change = fill_changelog(self.bootstrap, app_id, count, progress)
        began = time.time()
        port, worker = self.start_hubs(
            app_id, "h3", 1, env={"HUB_DEADLINE_SWEEP_SECONDS": "1"}
        )[0]
        try:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", seconds=600)
            restored = time.time() - began
            rss = _rss_mib(worker.pid)
            progress(f"  H3: {app_id} restored {count} orders and is ready in {restored:.1f} s "
                     f"({rss:.0f} MiB resident)")
            got = measure(f"http://127.0.0.1:{port}", self.tokens)
        finally:
            stop_worker(worker)
        extra = {"orders": count, "ready_s": round(restored, 1), "rss_mib": round(rss)}
        self.notes.append(
            f"H3: the worker restored {count} order views from their changelog and was ready in "
            f"{restored:.1f} s, {rss:.0f} MiB resident (its memory and restore time follow the "
            "orders it holds: docs/capacity.md)"
        )
        self.record("H3-index", None, per_change, "µs", **extra)
        self.record("H3-scrape", None, got["scrape_ms"], "ms", max_ms=got["scrape_max_ms"], **extra)
        self.record("H3-assessment", None, got["assessment_ms"], "ms",
                    max_ms=got["assessment_max_ms"], **extra)
        self.record("H3-sweep", None, got["sweep_ms"], "ms", sweeps=got["sweeps"],
                    at_most_ms=got["sweep_at_most_ms"], **extra)
        progress(
            f"  H3: /metrics {got['scrape_ms']:.1f} ms (max {got['scrape_max_ms']:.1f}), "
            f"/v1/assessment {got['assessment_ms']:.1f} ms (max {got['assessment_max_ms']:.1f}), "
            f"sweep {got['sweep_ms']:.2f} ms over {got['sweeps']:.0f} sweeps (each ≤ "
            f"{got['sweep_at_most_ms']:g} ms)"
        )

    # -- the run

    def run(self) -> dict[str, Any]:
        began = time.time()
        self.setup()
        try:
            if "H2" in self.only:
                port = free_port()
                log = self.workdir / "noop.log"
                with log.open("w") as out:
                    noop = subprocess.Popen(
                        [sys.executable, "-m", "tests.bench.noop_server", str(port)],
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                self.noop = (port, noop)
                _wait_healthy(f"http://127.0.0.1:{port}/healthz", noop, log)
            for r in range(1, self.args.rounds + 1):
                progress(f"round {r} of {self.args.rounds}")
                for case in ("B0", "B1", "B2", "B3", "B4", "B5"):
                    for size in self.sizes if case in self.only else []:
                        if case == "B0":
                            self.b0(r, size)
                        elif case == "B4":
                            self.loop(case, size)
                            self.loop(case, size, table=True)
                        else:
                            self.loop(case, size)
                hub = None
                if "H1" in self.only:
                    for size in self.sizes:
                        if self.args.h1_workers > 1:
                            self.h1(r, size, keep=False, workers=self.args.h1_workers)
                        hub = self.h1(r, size, keep=size == self.sizes[-1] and "H2" in self.only)
                if "H2" in self.only:
                    if hub is None:
                        app_id, _ = self.fresh_group(f"bench-h2-r{r}")
                        hub = self.start_hub(app_id, f"h2-r{r}")
                        _wait_ready(f"http://127.0.0.1:{hub[0]}/readyz")
                    try:
                        for size in self.sizes:
                            self.h2(r, size, hub)
                    finally:
                        stop_worker(hub[1])
            if "L1" in self.only:
                self.l1(self.args.l1_rate or list(L1_RATES))
            if "H3" in self.only:
                self.h3()
        finally:
            self.teardown()
        return self.summary(began)

    # -- results

    def summary(self, began: float) -> dict[str, Any]:
        cases: dict[str, Any] = {}
        for key, runs in self.runs.items():
            values = [run["value"] for run in runs]
            processes = sorted({p for run in runs for p in run.get("cpu", {})})
            cases[key] = {
                "label": _label(key.split("/")[0]),
                "size": key.split("/")[1] if "/" in key else None,
                "unit": runs[0]["unit"],
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "cpu_s": {
                    p: statistics.median(run["cpu"].get(p, 0.0) for run in runs) for p in processes
                },
                "rounds": runs,
            }

        def median(key: str) -> float | None:
            return cases[key]["median"] if key in cases else None

        ratios: dict[str, Any] = {}
        for size in self.sizes:
            pairs = {
                "H1/B1": (f"H1/{size}", f"B1/{size}"),
                "H1/B2": (f"H1/{size}", f"B2/{size}"),
                "H2/no-op": (f"H2-hub/{size}", f"H2-noop/{size}"),
            }
            for name, (top, bottom) in pairs.items():
                a, b = median(top), median(bottom)
                if a is not None and b:
                    ratios.setdefault(name, {})[size] = a / b
        floors: dict[str, Any] = {}
        for size in self.sizes:
            hop, tabled, work = (median(f"{c}/{size}") for c in ("B4", "B4-table", "B5"))
            if hop and tabled and work:
                floor = 1 / (3 / hop + (1 / tabled - 1 / hop) + 1 / work)
                floors[size] = {"floor": floor}
                h1 = median(f"H1/{size}")
                if h1 is not None:
                    floors[size]["H1/floor"] = h1 / floor
        for size in self.sizes:
            h1, tabled = median(f"H1/{size}"), median(f"B4-table/{size}")
            if h1 is not None:
                ratios.setdefault("H1 records/s, one worker", {})[size] = h1
                if tabled:
                    ratios.setdefault("H1/B4-table", {})[size] = h1 / tabled
        for case, name in FIGURES.items():
            if case in cases:
                ratios[name] = {"all": cases[case]["median"]}
        targets: dict[str, Any] = {}
        for name, (op, limit, _) in TARGETS.items():
            for size, value in ratios.get(name, {}).items():
                met = value >= limit if op == ">=" else value <= limit
                targets.setdefault(name, {})[size] = {
                    "value": value,
                    "target": f"{op} {limit:g}",
                    "met": met,
                }
        now = datetime.now().astimezone()
        return {
            "date": now.strftime("%Y-%m-%d"),
            "finished_at": now.isoformat(timespec="seconds"),
            "duration_s": round(time.time() - began, 1),
            "machine": _machine(),
            "broker": (f"own, 127.0.0.1:{self.args.port}" if self.own_broker else self.bootstrap),
            "parameters": {
                "rounds": self.args.rounds,
                "records": self.args.records,
                "loop_records": self.args.loop_records,
                "b0_records": {
                    "small": self.args.b0_records,
                    "large": self.args.b0_records // 3,
                },
                "h2_seconds": self.args.seconds,
                "h2_concurrency": self.args.concurrency,
                "latency_seconds": self.args.latency_seconds,
                "l1_warmup": self.args.l1_warmup,
                "sizes": self.sizes,
                "cases": sorted(self.only, key=CASES.index),
            },
            "records": self.records,
            "cases": cases,
            "ratios": ratios,
            "targets": targets,
            "h1_floor": floors,
            "notes": self.notes,
        }


# ------------------------------------------------------------------------ reports


def _label(case: str) -> str:
    if case.startswith("H1x"):
        return f"H1 the same, {case[3:]} workers of one app"
    if "@" in case:  # an L1 figure at a rate: L1@100-p99
        name, rest = case.split("@", 1)
        rate, part = rest.split("-", 1)
        return f"{LABELS[f'{name}-{part}']} at {rate} requests/s"
    return LABELS[case]


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "—"
    return f"{value:,.1f}" if unit == "ms" or abs(value) < 100 else f"{value:,.0f}"


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    params = result["parameters"]
    lines = [
        f"Benchmarks of {result['date']} on {machine['cores']} cores, "
        f"{machine['memory_gib']:g} GiB ({machine['cpu_model'] or 'unknown CPU'}); "
        f"Kafka {machine['kafka']}, Python {machine['python']}, one local broker; "
        f"{params['rounds']} interleaved rounds, `make bench` took "
        f"{result['duration_s'] / 60:.1f} min.",
        "",
    ]
    records = result["records"]
    sizes = [s for s in params["sizes"] if s in records]
    label = {s: f"{records[s]['native_bytes']:.0f} B" for s in sizes}
    lines.append(
        f"Records: native `{records['native_kind']}` of {records['party']} → canonical "
        f"{records['canonical']} ({records['canonical_fields']} fields); "
        + "; ".join(
            f"{s}: {records[s]['native_bytes']:.0f} B native, "
            f"{records[s]['canonical_avro_bytes']:.0f} B Avro"
            for s in sizes
        )
        + "."
    )
    lines += [
        "",
        "| case | native record | median | min | max | unit | CPU s per process (median of rounds) |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for case in result["cases"].values():
        size = case["size"]
        cpu = ", ".join(f"{p} {s:.1f}" for p, s in case["cpu_s"].items())
        lines.append(
            f"| {case['label']} | {label.get(size or '', '—')} | "
            f"{_num(case['median'], case['unit'])} | {_num(case['min'], case['unit'])} | "
            f"{_num(case['max'], case['unit'])} | {case['unit']} | {cpu} |"
        )
    lines += ["", "| ratio | " + " | ".join(label[s] for s in sizes) + " | target | met |"]
    lines.append("|---|" + "---:|" * len(sizes) + "---|---|")
    for name, (op, limit, unit) in TARGETS.items():
        if name not in result["targets"]:
            continue
        entries = result["targets"][name]
        if "all" in entries:
            cells = [f"{entries['all']['value']:.1f} {unit}"] + [""] * (len(sizes) - 1)
        else:
            cells = [
                (f"{entries[s]['value']:,.0f}" if entries[s]["value"] >= 100
                 else f"{entries[s]['value']:.2f}") if s in entries else "—"
                for s in sizes
            ]
        met = all(e["met"] for e in entries.values())
        lines.append(
            f"| {name} | " + " | ".join(cells)
            + f" | {op} {limit:g} {unit} | {'yes' if met else 'no'} |"
        )
    missing = [name for name in TARGETS if name not in result["targets"]]
    if missing:
        lines.append(f"| not measured in this run (cases left out) | {', '.join(missing)} |")
    floors = result.get("h1_floor", {})
    if floors:
        lines += [
            "",
            "| H1 against its floor on this stack | "
            + " | ".join(label[s] for s in sizes if s in floors)
            + " |",
            "|---|" + "---:|" * len([s for s in sizes if s in floors]),
            "| floor: 1 / (3 / B4 + (1 / B4-table − 1 / B4) + 1 / B5), records/s | "
            + " | ".join(f"{floors[s]['floor']:,.0f}" for s in sizes if s in floors)
            + " |",
            "| H1 / floor | "
            + " | ".join(
                f"{floors[s]['H1/floor']:.2f}" if "H1/floor" in floors[s] else "—"
                for s in sizes
                if s in floors
            )
            + " |",
        ]
    lines += [
        "",
        "Measured as: B1–B3 from the first record to the last one flushed or encoded "
        f"({params['loop_records']} records), CPU of the whole process (kernel rusage, start-up "
        f"included); H1 {params['records']} records / (last inbox write − first canonical "
        "write, broker timestamps), worker CPU from /healthz to the last inbox write; H2 "
        f"closed loop, {params['h2_concurrency']} in flight, {params['h2_seconds']:g} s, "
        "client = the suite's process; L1 open loop on a warmed-up worker, "
        f"{params['latency_seconds']:g} s after {params.get('l1_warmup', 0):g} s of the same "
        "load not counted, its broker CPU includes the client's inbox watchers "
        "(long polls), worker CPU per native record = the worker's CPU over the native loop / "
        "its requests; idle = that worker's CPU over 10 s without traffic, after its "
        "warm-up; H3 client wall time of one request at a time, the sweep's loop time from "
        "its histogram; B0 consume includes the group join (fetch-only rate in latest.json); "
        "B4 as B1–B2, B5 as B3.",
    ]
    if result["notes"]:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.suite",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--records", type=int, default=8000, help="H1 backlog: native records per size and round"
    )
    parser.add_argument(
        "--loop-records",
        type=int,
        default=30000,
        help="records per run of B1, B2 and B3 (the same records; default 30000)",
    )
    parser.add_argument(
        "--b0-records",
        type=int,
        default=300000,
        help="records per B0 run of small records (large: a third of it)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every case (default 3)")
    parser.add_argument(
        "--h1-workers",
        type=int,
        default=2,
        help="H1 is also run with this many workers of one app (docs/design.md §7: more workers for more "
        "partitions), reported as H1xN; 1 runs the one-worker H1 only (default 2)",
    )
    parser.add_argument("--out", default="bench/results", help="folder for latest.json/.md")
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"comma-separated cases to run (default all: {','.join(CASES)})",
    )
    parser.add_argument(
        "--sizes",
        default="small,large",
        help="record sizes: small (~200 B), large (~1 KB) or both (default small,large)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="H2: seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="H2: requests in flight")
    parser.add_argument(
        "--latency-seconds", type=float, default=10.0, help="L1: seconds of open-loop load"
    )
    parser.add_argument(
        "--l1-warmup", type=float, default=3.0,
        help="L1: seconds of the same load before each measured loop, not counted (default 3)",
    )
    parser.add_argument(
        "--l1-rate", type=float, action="append", default=None,
        help="L1: requests/s; repeat for several (default: 100 and 300, the targets' rates)",
    )
    parser.add_argument(
        "--history-orders", type=int, default=100_000,
        help="H3: order views the worker restores before its readers are timed (default 100000)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=60.0,
        help="H1: give up when no record moved for this long (default 60)",
    )
    parser.add_argument(
        "--port", type=int, default=29393, help="port of the suite's own broker (default 29393)"
    )
    args = parser.parse_args()
    args.only = [c.strip().upper() for c in args.only.split(",") if c.strip()]
    unknown = set(args.only) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {','.join(CASES)}")
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or set(args.sizes) - set(SIZES):
        parser.error(f"--sizes takes {','.join(SIZES)}")
    progress(
        f"benchmark suite: cases {','.join(args.only)}, sizes {','.join(args.sizes)}, "
        f"{args.rounds} rounds"
    )
    result = Suite(args).run()
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    table = markdown(result)
    (out / "latest.md").write_text(table, encoding="utf-8")
    print()
    print(table)
    progress(f"written {out / 'latest.json'} and {out / 'latest.md'}")


if __name__ == "__main__":
    main()
