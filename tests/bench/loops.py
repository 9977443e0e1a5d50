"""Benchmark loops of the suite, each in its own process (so its CPU time is its own),
and the realistic native records every case of the suite uses.

    python -m tests.bench.loops b1 --bootstrap HOST:PORT --topic IN --out OUT --records N
    python -m tests.bench.loops b2 --bootstrap HOST:PORT --topic IN --out OUT --records N
    python -m tests.bench.loops b3 --size small|large --records N [--data-dir DIR]
    python -m tests.bench.loops b4 --bootstrap HOST:PORT --topic IN --out OUT --records N [--table]
    python -m tests.bench.loops b5 --size small|large --records N [--data-dir DIR]

b1: kafka-python consume -> produce: a KafkaConsumer assigned every partition of IN from
    the beginning (no group), a KafkaProducer(acks=all, linger_ms=5) writing each record
    to OUT, until N records are consumed and the producer is flushed.
b2: the same loop with aiokafka (the client Faust uses): getmany batches, sends not
    awaited one by one, one flush at the end.
b3: the normaliser's work without Kafka: decode and map the native record
    (connectors mapping spec), validate against the reference data, Avro-encode with
    a writer resolved once.
b4: the b2 loop as a Faust agent (faust-streaming, the stream framework the hub's
    worker runs on, configured as the worker configures it): a fresh consumer group
    reading IN from the beginning, `app.producer.send` of each record's bytes to OUT,
    no decoding. With --table each record also sets one key of an in-memory table
    (one changelog write, as the dispatch engine writes an order's view). This is one
    hop of the hub's pipeline with nothing of the hub in it; H1 makes three.
b5: the hub's own work on a record across H1's three hops, no Kafka: b3, then the
    dispatch engine's decode of the clue, its ASSIGNMENT order (built, validated,
    encoded), the decode of that order, its view with the assessment credits, and the
    JSON of the table value. b4 and b5 together are H1's floor on this stack.

The clock starts at the first record consumed (b1, b2) or the first record mapped (b3)
and stops when the last one is durable (flushed) or encoded. Each prints one JSON line:
{"case", "records", "seconds", "records_per_s", "loop_cpu_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PARTY = "dept-urban"
NATIVE_KIND = "urban-case"  # 数字城管案件 → canonical clue
NATIVE_KIND_HEADER = "hub.native.kind"
SIZES = {"small": 200, "large": 1024}  # target bytes of one native record (UTF-8 JSON)
DEADLINE_S = 300.0

# Realistic free text of a digital city-management case (数字城管 problem descriptions).
_PHRASES = [
    "商户店外经营占用人行道",
    "监督员巡查发现沿街门店将货架、纸箱摆放至店外人行道上",
    "占道面积约八平方米，影响行人通行",
    "早晚高峰时段尤为严重，周边居民多次通过市民热线反映",
    "现场已拍照取证并告知店主限期整改",
    "店主称为临时卸货，承诺当日清理",
    "复查时发现仍有部分杂物未清理",
    "人行道地砖局部破损，雨天积水",
    "游商推车在公交站台附近摆摊售卖水果",
    "夜间烧烤摊点油烟较大，餐桌餐椅占用盲道",
    "小区出入口两侧堆放建筑垃圾和废旧家具",
    "垃圾收集点周边有暴露垃圾，气味较重",
    "临街围墙外侧新搭建彩钢板棚一处，疑似未经审批",
    "废品收购点在人行道上分拣纸板，占道经营",
    "建议街道综合执法中队尽快到场处置并反馈结果",
    "涉及门店为连锁便利店，营业执照悬挂于店内",
    "已通知社区网格员协助劝导，并做好后续跟踪",
]
_SHORT = ["店外经营占道", "游商占道经营", "暴露垃圾", "违章搭建彩钢棚", "道路遗撒", "占道废品收购"]
_ADDRESSES = [
    "和平大道388号",
    "中山路126号",
    "徐东大街120号",
    "中南二路15号",
    "武珞路628号",
    "友谊大道999号",
    "秦园路27号",
    "八一路299号",
]


def spec_and_sample() -> tuple[Any, dict[str, Any]]:
    """The inbound mapping spec of NATIVE_KIND (checked: it makes a clue) and the native
    sample documented at the top of its YAML file."""
    from hub.mapping import load_catalogue

    catalogue = load_catalogue()
    shipped = [
        s
        for s in catalogue.shipped
        if s.spec.native_kind == NATIVE_KIND and s.spec.direction == "in"
    ]
    if len(shipped) != 1 or shipped[0].spec.canonical != "clue" or shipped[0].spec.party != PARTY:
        raise SystemExit(f"{NATIVE_KIND}: expected one inbound clue spec of {PARTY}")
    lines = shipped[0].path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "Native sample" in line)
    text = []
    for line in lines[start + 1 :]:
        if not line.startswith("#  "):
            break
        text.append(line[1:].strip())
    return shipped[0].spec, json.loads(" ".join(text))


def _delegated_categories(spec: Any) -> list[tuple[str, str]]:
    """(大类, 小类) pairs whose matter is delegated to the streets, so a clue becomes an
    ASSIGNMENT to a street (a clue whose matter the department keeps makes no order)."""
    from hub.reference import load_seed_reference

    matters = load_seed_reference().matters
    table = spec.codes[spec.fields["matter_code"].codes]
    return [
        (code[:2], code[2:])
        for code, matter in table.items()
        if matters.get(matter) is not None and matters[matter].delegated_to_street
    ]


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def native_records(count: int, size: str, tag: str) -> list[tuple[bytes, bytes]]:
    """count native urban-case records (key = native id, value = UTF-8 JSON) of about
    SIZES[size] bytes. The content depends on size only (same records every call); tag
    (up to 6 ASCII letters/digits) makes the native ids (案件编号) unique per run."""
    spec, template = spec_and_sample()
    categories = _delegated_categories(spec)
    streets = list(spec.codes["streets"])
    origins = list(spec.codes["origins"])
    target = SIZES[size]
    rng = random.Random(f"{NATIVE_KIND}/{size}")  # noqa: S311 - a reproducible mix, not a secret
    base = datetime.now(UTC).astimezone(timezone_beijing()).replace(tzinfo=None)
    out = []
    for i in range(count):
        big, small = rng.choice(categories)
        record = dict(template)
        record.update(
            {
                "案件编号": f"CG{tag}{i:08d}",
                "上报时间": (base - timedelta(seconds=rng.randint(60, 86400))).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "案件来源": rng.choice(origins),
                "大类": big,
                "小类": small,
                "所属街道": rng.choice(streets),
                "地址": rng.choice(_ADDRESSES),
            }
        )
        if size == "small":  # the smallest record a real system sends: no optional fields
            for optional in ("经度", "纬度", "举报人", "联系电话"):
                record.pop(optional, None)
        else:
            record["经度"] = f"{114.28 + rng.random() * 0.08:.4f}"
            record["纬度"] = f"{30.50 + rng.random() * 0.08:.4f}"
            record["举报人"] = rng.choice(["王先生", "李女士", "张师傅", ""])
            record["联系电话"] = f"139{rng.randint(0, 99_999_999):08d}" if record["举报人"] else ""
        record["问题描述"] = ""
        room = target - len(_dump(record)) - 3
        if room < 40:  # as short as such systems get: a few words
            text = rng.choice(_SHORT)
        else:  # free text padded to the size, cut at a character
            text = ""
            while len(text.encode()) < room:
                text += rng.choice(_PHRASES) + "，"
            while len(text.encode()) > room:
                text = text[:-1]
        record["问题描述"] = text.rstrip("，") + "。"
        out.append((record["案件编号"].encode(), _dump(record)))
    return out


def timezone_beijing() -> Any:
    from hub.reference import BEIJING

    return BEIJING


def canonical_clue(value: bytes, spec: Any, reference: Any) -> Any:
    """The validated canonical clue of one native record, as the normaliser makes it."""
    from hub.records import validate

    data = spec.apply(spec.decode(value))
    data["source_party"] = PARTY
    return validate(spec.canonical, data, reference)


# --------------------------------------------------------------------------- loops


def _emit(case: str, records: int, seconds: float, cpu: float, **extra: Any) -> None:
    print(
        json.dumps(
            {
                "case": case,
                "records": records,
                "seconds": seconds,
                "records_per_s": records / seconds,
                "loop_cpu_s": cpu,
                **extra,
            }
        ),
        flush=True,
    )


def b1(bootstrap: str, topic: str, out: str, records: int) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    done = 0
    started = cpu_started = 0.0
    give_up = time.monotonic() + DEADLINE_S
    while done < records:
        if time.monotonic() > give_up:
            raise SystemExit(f"b1: only {done} of {records} records in {topic} after {DEADLINE_S}s")
        batches = consumer.poll(timeout_ms=1000)
        if batches and not started:
            started, cpu_started = time.perf_counter(), time.process_time()
        for batch in batches.values():
            for record in batch:
                if done >= records:
                    break
                producer.send(out, key=record.key, value=record.value, headers=record.headers)
                done += 1
    producer.flush()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    producer.close()
    consumer.close()
    _emit("b1", done, elapsed, cpu)


async def b2(bootstrap: str, topic: str, out: str, records: int) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        done = 0
        started = cpu_started = 0.0
        deliveries = []
        give_up = time.monotonic() + DEADLINE_S
        while done < records:
            if time.monotonic() > give_up:
                raise SystemExit(f"b2: only {done} of {records} records in {topic}")
            batches = await consumer.getmany(timeout_ms=1000)
            if batches and not started:
                started, cpu_started = time.perf_counter(), time.process_time()
            for batch in batches.values():
                for record in batch:
                    if done >= records:
                        break
                    deliveries.append(
                        await producer.send(
                            out, key=record.key, value=record.value, headers=list(record.headers)
                        )
                    )
                    done += 1
        await producer.flush()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        failed = sum(1 for d in deliveries if d.exception() is not None)
    finally:
        await producer.stop()
        await consumer.stop()
    _emit("b2", done, elapsed, cpu, failed=failed)


# Faust's producer buffer, widened as the hub's worker widened it while its stages ran as
# Faust agents (Faust's 100 held the agents back behind their table writes)
FAUST_PRODUCER_BUFFER = 10_000


def b4(bootstrap: str, topic: str, out: str, records: int, table: bool) -> None:
    import os
    import tempfile
    import uuid

    import faust

    app = faust.App(
        f"bench-b4-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="hub-bench-b4-"),
        topic_replication_factor=1,
        topic_partitions=6,
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_batch_size=256 * 1024,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        loghandlers=[],
    )
    source = app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    seen = app.Table("b4-seen", default=None, partitions=6) if table else None
    clock = {"done": 0, "started": 0.0, "cpu": 0.0}

    async def widen_producer_buffer() -> None:
        app.producer.buffer.max_messages = FAUST_PRODUCER_BUFFER

    app.task(widen_producer_buffer)

    async def forward(stream: Any) -> None:
        producer = app.producer
        try:
            async for event in stream.events():
                message = event.message
                if not clock["started"]:
                    clock["started"], clock["cpu"] = time.perf_counter(), time.process_time()
                headers = list(message.headers or [])
                await producer.send(out, message.key, message.value, None, None, headers)
                if seen is not None:
                    seen[message.key.decode()] = message.offset
                clock["done"] += 1
                if clock["done"] == records:
                    await producer.buffer.flush()
                    await producer.flush()
                    elapsed = time.perf_counter() - clock["started"]
                    cpu = time.process_time() - clock["cpu"]
                    _emit("b4-table" if table else "b4", records, elapsed, cpu)
                    os._exit(0)  # measured; no need to wait for the group to say goodbye
        except Exception as exc:  # noqa: BLE001 - a crashed loop must end the run, not hang it
            print(f"b4: the agent failed: {exc!r}", file=sys.stderr, flush=True)
            os._exit(1)

    app.agent(source, name="forward")(forward)

    async def give_up() -> None:
        await asyncio.sleep(DEADLINE_S)
        print(f"b4: only {clock['done']} of {records} records in {topic}", file=sys.stderr)
        os._exit(1)

    app.task(give_up)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


def b5(size: str, records: int, data_dir: str | None) -> None:
    from hub.dispatch._assessment import credit, opened
    from hub.dispatch._lifecycle import open_order, view_to_dict
    from hub.records import KINDS
    from hub.stages import assignment_of

    serde, reference, spec = _hub_codec(data_dir)
    clue_writer = asyncio.run(serde.writer(KINDS["clue"]))
    order_writer = asyncio.run(serde.writer(KINDS["order"]))
    values = [value for _, value in native_records(records, size, "B5")]

    async def three_hops() -> int:
        written = 0
        for value in values:
            clue_bytes = serde.encode_with(clue_writer, canonical_clue(value, spec, reference))
            clue = await serde.decode("clue", clue_bytes, reference)
            matter = reference.matters[clue.matter_code]  # type: ignore[attr-defined]
            target = clue.street if matter.delegated_to_street else matter.department  # type: ignore[attr-defined]
            order_bytes = serde.encode_with(order_writer, assignment_of(clue, target, matter.name))  # type: ignore[arg-type]
            view = open_order(await serde.decode("order", order_bytes, reference))  # type: ignore[arg-type]
            stored = {
                **view_to_dict(view),
                "assessment": credit(None, opened(view)),
                "partition": 0,
            }
            written += len(json.dumps(stored))
        return written

    started, cpu_started = time.perf_counter(), time.process_time()
    written = asyncio.run(three_hops())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    _emit("b5", len(values), elapsed, cpu, view_bytes=written / len(values))


def _hub_codec(data_dir: str | None) -> tuple[Any, Any, Any]:
    """(serde on an in-memory registry, reference data, the native kind's mapping spec)."""
    from hub.catalogue import read_cache
    from hub.reference import load_seed_reference
    from hub.registry import MemoryRegistry
    from hub.serde import AvroSerde
    from hub.settings import HubSettings

    reference = None
    if data_dir:  # what `hub reference load` cached, as a worker has it
        reference = read_cache(HubSettings(data_dir=Path(data_dir)))
    reference = reference or load_seed_reference()
    spec, _ = spec_and_sample()
    return AvroSerde(MemoryRegistry()), reference, spec


def b3(size: str, records: int, data_dir: str | None) -> None:
    from hub.records import KINDS

    serde, reference, spec = _hub_codec(data_dir)
    writer = asyncio.run(serde.writer(KINDS[spec.canonical]))
    values = [value for _, value in native_records(records, size, "B3")]
    started, cpu_started = time.perf_counter(), time.process_time()
    total = 0
    for value in values:
        total += len(serde.encode_with(writer, canonical_clue(value, spec, reference)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    _emit("b3", len(values), elapsed, cpu, avro_bytes=total / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("case", choices=["b1", "b2", "b3", "b4", "b5"], help="which loop")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (b1, b2)")
    parser.add_argument("--topic", help="topic to read (b1, b2)")
    parser.add_argument("--out", help="topic to write (b1, b2)")
    parser.add_argument("--records", type=int, required=True, help="records to process")
    parser.add_argument("--size", choices=sorted(SIZES), default="small", help="records (b3, b5)")
    parser.add_argument("--data-dir", help="HUB_DATA_DIR with the reference cache (b3, b5)")
    parser.add_argument("--table", action="store_true", help="b4: one table write per record")
    args = parser.parse_args()
    if args.case in ("b1", "b2", "b4") and not (args.bootstrap and args.topic and args.out):
        parser.error(f"{args.case} needs --bootstrap, --topic and --out")
    if args.case == "b1":
        b1(args.bootstrap, args.topic, args.out, args.records)
    elif args.case == "b2":
        asyncio.run(b2(args.bootstrap, args.topic, args.out, args.records))
    elif args.case == "b4":
        b4(args.bootstrap, args.topic, args.out, args.records, args.table)
    elif args.case == "b5":
        b5(args.size, args.records, args.data_dir)
    else:
        b3(args.size, args.records, args.data_dir)
    sys.exit(0)


if __name__ == "__main__":
    main()
