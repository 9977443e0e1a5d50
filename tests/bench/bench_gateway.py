"""Benchmark: HTTP publish through the gateway against a no-op aiohttp handler.

One run, same machine: a real `hub worker` (validation, Avro, acks=all writes to the
local broker, audit) and a no-op aiohttp server, loaded in turn by the same client
(closed loop, fixed concurrency), three interleaved rounds. Then an open-loop run at
half the gateway's measured single-publish rate gives p50/p99 latency.

    .venv/bin/python -m tests.bench.bench_gateway [--seconds S] [--concurrency C] [--json FILE]

Uses HUB_KAFKA_BOOTSTRAP when set, else starts its own broker (port 29392).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import free_port
from tests.samples import sample

ROOT = Path(__file__).resolve().parents[2]
HUB = str(ROOT / ".venv" / "bin" / "hub")
KAFKA_SH = str(ROOT / "deploy" / "kafka" / "kafka.sh")
BENCH_PORT = "29392"


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # TimeoutError: accepted but not answered within 1 s (a worker restoring a
            # long history at start: bench H3), so not healthy yet
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"server at {url} did not start:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.3)


class Body:
    """Unique valid order bodies (a fresh source_id each time, so nothing is deduplicated)."""

    def __init__(self) -> None:
        self.n = 0

    def one(self) -> bytes:
        self.n += 1
        return json.dumps(sample("order", source_id=f"BENCH-{os.getpid()}-{self.n}")).encode()

    def batch(self, size: int) -> bytes:
        records = []
        for _ in range(size):
            self.n += 1
            records.append(sample("order", source_id=f"BENCH-{os.getpid()}-{self.n}"))
        return json.dumps({"records": records}).encode()


async def closed_loop(
    url: str, token: str, seconds: float, concurrency: int, make: Any, per_request: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    done = errors = 0
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers=headers) as session:

        async def user() -> None:
            nonlocal done, errors
            while time.monotonic() < stop:
                async with session.post(url, data=make()) as response:
                    await response.read()
                    if response.status == 202:
                        done += per_request
                    else:
                        errors += 1

        start = time.monotonic()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
    return {"records_per_s": done / elapsed, "errors": errors}


async def open_loop(
    url: str, token: str, seconds: float, rate: float, make: Any
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one() -> None:
            nonlocal errors
            began = time.perf_counter()
            async with session.post(url, data=make()) as response:
                await response.read()
                if response.status != 202:
                    errors += 1
            latencies.append((time.perf_counter() - began) * 1000)

        tasks = []
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds:
            due = start + sent / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one()))
            sent += 1
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "rate": rate,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent client requests")
    parser.add_argument("--batch", type=int, default=50, help="records per batch request")
    parser.add_argument("--json", default=None, help="also write results to this JSON file")
    args = parser.parse_args()

    own_broker = "HUB_KAFKA_BOOTSTRAP" not in os.environ
    bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP", f"127.0.0.1:{BENCH_PORT}")
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    if own_broker:
        subprocess.run([KAFKA_SH, "reset", "--port", BENCH_PORT], check=True, capture_output=True)
        subprocess.run([KAFKA_SH, "start", "--port", BENCH_PORT], check=True)
    hub_port, noop_port = free_port(), free_port()
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
        "HUB_DATA_DIR": str(workdir),
        "HUB_HTTP_PORT": str(hub_port),
        "HUB_APP_ID": f"bench-{hub_port}",
        "HUB_GATEWAY_RATE": "1000000",
        "HUB_GATEWAY_BURST": "1000000",
        "HUB_LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in (["topics", "apply"], ["reference", "load"]):
            subprocess.run([HUB, *command], env=env, check=True, capture_output=True)
        token = subprocess.run(
            [HUB, "tokens", "issue", "street-jiyuqiao"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        hub_log, noop_log = workdir / "worker.log", workdir / "noop.log"
        with hub_log.open("w") as out:
            hub = subprocess.Popen([HUB, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
        with noop_log.open("w") as out:
            noop = subprocess.Popen(
                [sys.executable, "-m", "tests.bench.noop_server", str(noop_port)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes += [hub, noop]
        _wait_healthy(f"http://127.0.0.1:{hub_port}/healthz", hub, hub_log)
        _wait_healthy(f"http://127.0.0.1:{noop_port}/healthz", noop, noop_log)
        body = Body()
        cases = {
            "noop_single": (f"http://127.0.0.1:{noop_port}/v1/records/order", body.one, 1, noop),
            "hub_single": (f"http://127.0.0.1:{hub_port}/v1/records/order", body.one, 1, hub),
            "noop_batch": (
                f"http://127.0.0.1:{noop_port}/v1/records/order/batch",
                lambda: body.batch(args.batch),
                args.batch,
                noop,
            ),
            "hub_batch": (
                f"http://127.0.0.1:{hub_port}/v1/records/order/batch",
                lambda: body.batch(args.batch),
                args.batch,
                hub,
            ),
        }
        asyncio.run(
            closed_loop(cases["hub_single"][0], token, 2.0, args.concurrency, body.one, 1)
        )  # warm-up
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for _ in range(3):
            for name, (url, make, per, process) in cases.items():
                cpu_before = _cpu(process.pid)
                result = asyncio.run(
                    closed_loop(url, token, args.seconds, args.concurrency, make, per)
                )
                result["server_cpu_s"] = _cpu(process.pid) - cpu_before
                runs[name].append(result)
        summary: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "cores": os.cpu_count(),
            "concurrency": args.concurrency,
            "batch": args.batch,
        }
        for name, results in runs.items():
            rates = [r["records_per_s"] for r in results]
            summary[name] = {
                "median": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "errors": sum(r["errors"] for r in results),
                "server_cpu_s": statistics.median(r["server_cpu_s"] for r in results),
            }
        summary["ratio_single"] = summary["hub_single"]["median"] / summary["noop_single"]["median"]
        summary["ratio_batch"] = summary["hub_batch"]["median"] / summary["noop_batch"]["median"]
        half = summary["hub_single"]["median"] / 2
        summary["latency"] = asyncio.run(
            open_loop(cases["hub_single"][0], token, args.seconds, half, body.one)
        )
        summary["client_cpu_s"] = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if own_broker:
            subprocess.run([KAFKA_SH, "stop", "--port", BENCH_PORT], capture_output=True)
    print(
        f"gateway benchmark: {args.seconds:g} s per run, 3 interleaved rounds, concurrency {args.concurrency}, {os.cpu_count()} cores"
    )
    print(
        f"{'case':<14}{'records/s median':>18}{'min':>10}{'max':>10}{'errors':>8}{'server cpu s':>14}"
    )
    for name in cases:
        row = summary[name]
        print(
            f"{name:<14}{row['median']:>18,.0f}{row['min']:>10,.0f}{row['max']:>10,.0f}{row['errors']:>8}{row['server_cpu_s']:>14.1f}"
        )
    latency = summary["latency"]
    print(f"hub/no-op single {summary['ratio_single']:.2f}, batch {summary['ratio_batch']:.2f}")
    print(
        f"latency at {latency['rate']:.0f} req/s (half of hub single): p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms, errors {latency['errors']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
