"""Shared data at register scale (issue 17), part of `make bench`: a million market
entities bulk-loaded, looked up, held and recovered, against raw clients in the same run.

Cases:
  S0  raw aiokafka: the same Avro bytes produced (acks=all, linger 5 ms) to a topic while
      a group-less consumer reads them; N / (last read - first send). The floor of a
      load that goes from a file through Kafka into a reader's memory.
  S1  `hub shared load FILE` (JSON lines, each row checked as the owner's record, encoded,
      written with acks=all) while a running worker's view follows the topic; N / (the
      last row's key answered by a lookup - the command's start). The CLI's own time and
      both processes' CPU are reported too.
  S2  lookups GET /v1/shared/entity/{uscc} with a purpose, open loop at --rate for
      --seconds on random loaded keys; p50 / p99 / max.
  S3  the worker's resident memory (VmRSS) with the register loaded.
  S4  the worker stopped (SIGTERM) and started again: seconds until it answers a lookup
      of a loaded key (its view read back from the topic).

Targets (the issue's): S1 >= 20,000 records/s; S2 p99 <= 10 ms at 200 lookups/s;
S3 <= 1.5 GiB; S4 <= 30 s. Written to OUT/shared-latest.json and .md.

    .venv/bin/python -m tests.bench.bench_shared [--entities 1000000] [--rate 200]
                                                 [--seconds 20] [--out bench/results]

Starts its own broker on --port (default 29394) unless HUB_KAFKA_BOOTSTRAP is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.records import KINDS, uscc_check_char, validate
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from tests.bench.bench_gateway import HUB, KAFKA_SH, _cpu
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {
    "S1 records/s": (">=", 20_000.0),
    "S2 p99 ms": ("<=", 10.0),
    "S3 RSS MiB": ("<=", 1536.0),
    "S4 restart s": ("<=", 30.0),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
TRADES = ("餐饮店", "便利店", "五金店", "理发店", "药房", "建材商行", "汽车维修部", "服装店")
STREETS = ("积玉桥", "杨园", "徐家棚", "粮道", "中华路", "黄鹤楼", "紫阳", "白沙洲",
           "首义路", "南湖", "珞珈山", "石洞", "中南路", "水果湖")
_T0 = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def uscc_of(n: int) -> str:
    body = f"91420106MA{n:07d}"
    return body + uscc_check_char(body)


def write_register(path: Path, count: int, seed: int = 17) -> list[str]:
    """A register of count entities as JSON lines (~230 B a row); their credit codes."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible register, not a secret
    keys = []
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            uscc = uscc_of(n)
            keys.append(uscc)
            street = rng.choice(STREETS)
            row = {
                "uscc": uscc,
                "name": f"武汉市武昌区{street}{rng.choice(TRADES)}{n}号",
                "legal_representative": rng.choice(SURNAMES) + rng.choice(GIVEN)
                + rng.choice(GIVEN),
                "address": f"武昌区{street}街{rng.randint(1, 999)}号",
                "registered_on": f"20{rng.randint(0, 25):02d}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}",
                "status": "ACTIVE" if rng.random() < 0.9 else "REVOKED",
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return keys


def avro_values(path: Path, limit: int) -> list[tuple[bytes, bytes]]:
    """(key, Avro value) of the register's rows as the load writes them."""
    serde = AvroSerde(MemoryRegistry())
    writer = asyncio.run(serde.writer(KINDS["entity"]))
    values = []
    with path.open(encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            record = validate("entity", {
                "occurred_at": "2026-12-03T08:00:00+08:00", **row,
                "source_party": "bigdata", "source_id": f"entity/{row['uscc']}",
            })
            values.append((row["uscc"].encode(), serde.encode_with(writer, record)))
            if len(values) >= limit:
                break
    return values


async def raw_loop(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> float:
    """S0: records/s produced and read back by a group-less consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=100)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=262144)
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or {0, 1, 2})]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        count = len(values)
        started = time.monotonic()

        async def produce() -> None:
            for key, value in values:
                await producer.send(topic, value=value, key=key)
            await producer.flush()

        sending = asyncio.create_task(produce())
        seen = 0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
            seen += sum(len(b) for b in batches.values())
        elapsed = time.monotonic() - started
        await sending
        return count / elapsed
    finally:
        await producer.stop()
        await consumer.stop()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.own_broker = "HUB_KAFKA_BOOTSTRAP" not in os.environ
        self.bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP", f"127.0.0.1:{args.port}")
        self.workdir = Path(tempfile.mkdtemp(prefix="hub-bench-shared-"))
        self.env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_DATA_DIR": str(self.workdir),
            "HUB_GATEWAY_RATE": "1000000",
            "HUB_GATEWAY_BURST": "1000000",
            "HUB_LOG_LEVEL": "WARNING",
        }
        self.result: dict[str, Any] = {"entities": args.entities, "notes": []}
        self.worker: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.token = ""

    def hub(self, *command: str) -> str:
        done = subprocess.run([HUB, *command], env=self.env, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(f"hub {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def setup(self) -> None:
        if self.own_broker:
            progress(f"broker: fresh Kafka on {self.bootstrap}")
            subprocess.run([KAFKA_SH, "reset", "--port", str(self.args.port)], check=True,
                           capture_output=True)
            subprocess.run([KAFKA_SH, "start", "--port", str(self.args.port)], check=True,
                           capture_output=True)
        self.hub("topics", "apply")
        self.hub("schemas", "register")
        self.hub("reference", "load")
        self.token = self.hub("tokens", "issue", "street-jiyuqiao").strip()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic("bench.shared.raw", 3, 1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def teardown(self) -> None:
        self.stop_worker()
        if self.own_broker:
            subprocess.run([KAFKA_SH, "stop", "--port", str(self.args.port)], check=False,
                           capture_output=True)

    # ------------------------------------------------------------------ worker

    def start_worker(self, app_id: str) -> float:
        """Start a worker; seconds until it answers a lookup (200 or 404, not 503)."""
        self.port = self.port or free_port()
        log = (self.workdir / f"worker-{time.monotonic_ns()}.log").open("wb")
        started = time.monotonic()
        self.worker = subprocess.Popen(
            [HUB, "worker"],
            env={**self.env, "HUB_APP_ID": app_id, "HUB_HTTP_PORT": str(self.port)},
            stdout=log, stderr=subprocess.STDOUT,
        )
        probe = uscc_of(0)
        while True:
            status = self.lookup(probe)[0]
            if status in (200, 404):
                return time.monotonic() - started
            if self.worker.poll() is not None or time.monotonic() - started > 600:
                raise SystemExit(f"the worker did not answer lookups; see {log.name}")
            time.sleep(0.2)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.worker = None

    def lookup(self, uscc: str) -> tuple[int, float]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/shared/entity/{uscc}",
            headers={"Authorization": f"Bearer {self.token}",
                     "X-Hub-Purpose": quote("基准测试 bench")},
        )
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                answer.read()
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            status = 0
        return status, (time.perf_counter() - began) * 1000

    def rss_mib(self) -> float:
        assert self.worker is not None
        for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    # ------------------------------------------------------------------- cases

    def run(self) -> None:
        args = self.args
        register = self.workdir / "entities.jsonl"
        progress(f"writing a register of {args.entities:,} entities")
        keys = write_register(register, args.entities)
        self.result["file_mib"] = register.stat().st_size / 2**20

        progress("S0: the same Avro bytes, aiokafka produce → group-less consumer")
        values = avro_values(register, args.entities)
        self.result["S0 records/s"] = asyncio.run(
            raw_loop(self.bootstrap, "bench.shared.raw", values))
        self.result["avro_bytes"] = statistics.mean(len(v) for _, v in values[:10000])
        del values
        progress(f"S0: {self.result['S0 records/s']:,.0f} records/s")

        app_id = f"bench-shared-{uuid.uuid4().hex[:6]}"
        self.start_worker(app_id)
        assert self.worker is not None
        worker_cpu = _cpu(self.worker.pid)
        progress(f"S1: hub shared load of {args.entities:,} rows, the view following")
        started = time.monotonic()
        load = subprocess.Popen([HUB, "shared", "load", str(register), "--quiet"],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        last = keys[-1]
        loaded_at = None
        while True:
            if loaded_at is None and load.poll() is not None:
                loaded_at = time.monotonic()
                if load.returncode != 0:
                    raise SystemExit(f"hub shared load failed: {load.stderr.read().decode()}")
            if self.lookup(last)[0] == 200:
                break
            if time.monotonic() - started > 3600:
                raise SystemExit("the view did not get the last row within an hour")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        if loaded_at is None:
            load.wait()
            loaded_at = time.monotonic()
        self.result["S1 records/s"] = args.entities / elapsed
        self.result["S1 CLI seconds"] = loaded_at - started
        self.result["S1 seconds"] = elapsed
        self.result["S1 worker CPU s"] = _cpu(self.worker.pid) - worker_cpu
        progress(f"S1: {self.result['S1 records/s']:,.0f} records/s ({elapsed:.1f} s; "
                 f"the CLI {loaded_at - started:.1f} s)")

        progress(f"S2: lookups at {args.rate}/s for {args.seconds:.0f} s")
        self.result.update(self.lookups(keys))
        progress(f"S2: p50 {self.result['S2 p50 ms']:.2f} ms, p99 {self.result['S2 p99 ms']:.2f}"
                 " ms")
        self.result["S3 RSS MiB"] = self.rss_mib()
        progress(f"S3: {self.result['S3 RSS MiB']:,.0f} MiB")

        progress("S4: restart")
        self.stop_worker()
        self.result["S4 restart s"] = self.start_worker(app_id)
        status = self.lookup(keys[len(keys) // 2])[0]
        if status != 200:
            self.result["notes"].append(f"after the restart a loaded key answered {status}")
        progress(f"S4: {self.result['S4 restart s']:.1f} s")
        self.stop_worker()

    def lookups(self, keys: list[str]) -> dict[str, float]:
        """S2: an open loop of lookups at rate, on threads so a slow answer does not
        delay the next request."""
        import concurrent.futures

        rng = random.Random(3)  # noqa: S311 - a reproducible mix, not a secret
        interval = 1.0 / self.args.rate
        total = int(self.args.rate * self.args.seconds)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            futures = []
            start = time.perf_counter()
            for n in range(total):
                delay = start + n * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.lookup, rng.choice(keys)))
            for future in futures:
                status, ms = future.result()
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(ms)
        latencies.sort()
        return {
            "S2 lookups": float(total),
            "S2 p50 ms": latencies[len(latencies) // 2],
            "S2 p99 ms": latencies[int(len(latencies) * 0.99) - 1],
            "S2 max ms": latencies[-1],
            "S2 answered 200": float(statuses.get(200, 0)),
        }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Shared data bench ({result['entities']:,} entities, "
        f"{result.get('avro_bytes', 0):.0f} B Avro, file {result.get('file_mib', 0):.0f} MiB)",
        "",
        f"{result.get('when', '')}, {result.get('machine', '')}; "
        "`python -m tests.bench.bench_shared` (part of `make bench`).",
        "",
        "| figure | value | target | met |",
        "|---|---|---|---|",
    ]
    for name in ("S0 records/s", "S1 records/s", "S1 CLI seconds", "S1 seconds",
                 "S1 worker CPU s", "S2 p50 ms", "S2 p99 ms", "S2 max ms", "S2 answered 200",
                 "S3 RSS MiB", "S4 restart s"):
        if name not in result:
            continue
        target = TARGETS.get(name)
        value = result[name]
        met = ""
        if target is not None:
            op, limit = target
            met = "yes" if (value >= limit if op == ">=" else value <= limit) else "**no**"
        lines.append(f"| {name} | {value:,.2f} | {'' if target is None else ' '.join(map(str, target))} | {met} |")  # noqa: E501
    if "S0 records/s" in result and "S1 records/s" in result:
        lines.append(f"| S1/S0 | {result['S1 records/s'] / result['S0 records/s']:.2f} | | |")
    for note in result["notes"]:
        lines.append(f"\n{note}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=200.0, help="lookups per second (S2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of lookups (S2)")
    parser.add_argument("--port", type=int, default=29394)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    bench = Bench(args)
    bench.result["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    bench.result["machine"] = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    try:
        bench.setup()
        bench.run()
    finally:
        bench.teardown()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shared-latest.json").write_text(json.dumps(bench.result, indent=2) + "\n")
    table = markdown(bench.result)
    (args.out / "shared-latest.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
