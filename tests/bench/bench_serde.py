"""Benchmark: the hub's validate+encode and decode+validate against bare fastavro.

Same records, same process, runs interleaved; prints records/s (median, min, max of
three runs) and the ratio to bare fastavro. No Kafka, no registry I/O: the schema id is
resolved once, as in a running worker.

    .venv/bin/python -m tests.bench.bench_serde [--records N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import fastavro

from hub.records import KINDS, to_avro, validate
from hub.reference import load_seed_reference
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from tests.samples import SAMPLES, sample


def _inputs(kind: str, count: int) -> list[dict[str, Any]]:
    base = SAMPLES[kind]
    return [sample(kind, source_id=f"{base['source_id']}-{i}") for i in range(count)]


def _timed(work: Callable[[], int]) -> tuple[float, float]:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    done = work()
    return done / (time.perf_counter() - start_wall), time.process_time() - start_cpu


def run(kind: str, count: int, reference: Any) -> dict[str, Any]:
    serde = AvroSerde(MemoryRegistry())
    spec = KINDS[kind]
    writer = asyncio.run(serde.writer(spec))
    parsed = writer[1]
    raw = _inputs(kind, count)
    models = [validate(spec, r, reference) for r in raw]
    data = [serde.encode_with(writer, m) for m in models]
    datums = [to_avro(m) for m in models]
    payload_sizes = [len(d) for d in data]

    def bare_encode() -> int:
        for datum in datums:
            out = io.BytesIO()
            fastavro.schemaless_writer(out, parsed, datum)
        return len(datums)

    def hub_encode() -> int:
        for record in raw:
            serde.encode_with(writer, validate(spec, record, reference))
        return len(raw)

    def bare_decode() -> int:
        for blob in data:
            fastavro.schemaless_reader(io.BytesIO(blob[5:]), parsed, parsed)
        return len(data)

    def hub_decode() -> int:
        async def decode_all() -> int:
            for blob in data:
                await serde.decode(spec, blob, reference)
            return len(data)

        return asyncio.run(decode_all())

    cases = {
        "bare_encode": bare_encode,
        "hub_encode": hub_encode,
        "bare_decode": bare_decode,
        "hub_decode": hub_decode,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(3):  # interleaved: each round runs every case once
        for name, work in cases.items():
            results[name].append(_timed(work))
    summary: dict[str, Any] = {
        "kind": kind,
        "records": count,
        "avro_bytes": statistics.mean(payload_sizes),
    }
    for name, runs in results.items():
        rates = [r for r, _ in runs]
        summary[name] = {
            "median_rps": statistics.median(rates),
            "min_rps": min(rates),
            "max_rps": max(rates),
            "cpu_s": statistics.median(c for _, c in runs),
        }
    summary["encode_ratio"] = (
        summary["hub_encode"]["median_rps"] / summary["bare_encode"]["median_rps"]
    )
    summary["decode_ratio"] = (
        summary["hub_decode"]["median_rps"] / summary["bare_decode"]["median_rps"]
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="records per run (default 5000)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    reference = load_seed_reference()
    rows = []
    print(
        f"serde benchmark, {args.records} records per run, 3 interleaved runs, {platform.python_version()}"
    )
    print(
        f"{'kind':<12}{'bytes':>7}{'bare enc/s':>12}{'hub v+enc/s':>13}{'ratio':>7}{'bare dec/s':>12}{'hub dec+v/s':>13}{'ratio':>7}"
    )
    for kind in ("order", "case", "clue", "order-event"):
        row = run(kind, args.records, reference)
        rows.append(row)
        print(
            f"{kind:<12}{row['avro_bytes']:>7.0f}"
            f"{row['bare_encode']['median_rps']:>12,.0f}{row['hub_encode']['median_rps']:>13,.0f}{row['encode_ratio']:>7.2f}"
            f"{row['bare_decode']['median_rps']:>12,.0f}{row['hub_decode']['median_rps']:>13,.0f}{row['decode_ratio']:>7.2f}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"date": time.strftime("%Y-%m-%d"), "results": rows}, out, indent=2)


if __name__ == "__main__":
    main()
