"""``hub dlq list|show|replay``, ``hub tail``, ``hub orders show``, ``hub status``:
operators' tools over Kafka (`hub.ops`). They need the cluster, not a worker."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any, TypeVar

from hub import ops
from hub.catalogue import load_reference
from hub.errors import HubError
from hub.settings import HubSettings

T = TypeVar("T")


def _run(work: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(work())  # type: ignore[arg-type]


@asynccontextmanager
async def _serde(settings: HubSettings) -> AsyncIterator[Any]:
    from hub.registry import open_registry
    from hub.serde import AvroSerde

    async with open_registry(settings) as client:
        yield AvroSerde(client)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c) or "")) for r in rows]) for c in columns}
    widths = {c: min(w, 48) for c, w in widths.items()}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c) or "")[: widths[c]].ljust(widths[c]) for c in columns))


# ---------------------------------------------------------------------- dlq


def _filter(args: argparse.Namespace, ids: list[str] | None = None) -> ops.DeadLetterFilter:
    return ops.DeadLetterFilter(
        stage=args.stage,
        reason=args.reason,
        party=args.party,
        since=ops.parse_moment(args.since) if args.since else None,
        until=ops.parse_moment(args.until) if args.until else None,
        ids=frozenset(ids or ()),
    )


def cmd_dlq_list(settings: HubSettings, args: argparse.Namespace) -> int:
    """DLQ records that match the filters: metadata only, newest last."""
    where = _filter(args)

    async def work() -> tuple[list[ops.DeadLetter], dict[str, Any]]:
        return await ops.read_dead_letters(settings, where), await ops.read_ledger(settings)

    letters, ledger = _run(work)
    shown = letters[-args.limit :] if args.limit else letters
    rows = []
    for letter in shown:
        row = letter.summary()
        row["replayed"] = "yes" if letter.id in ledger else ""
        rows.append(row)
    if args.json:
        for row in rows:
            _print_json(row)
        return 0
    if not rows:
        print("no DLQ records match" if letters == [] else "")
        return 0
    _table(rows, ["id", "parked_at", "stage", "reason", "field", "party", "replayed", "message"])
    by_stage = Counter(letter.stage for letter in letters)
    print(
        f"\n{len(letters)} record(s) match "
        f"({', '.join(f'{s} {n}' for s, n in sorted(by_stage.items()))})"
        + (f"; showing the last {len(shown)}" if len(shown) < len(letters) else "")
        + "; `hub dlq show ID` for one, `hub dlq replay ID|--filters` to put them back"
    )
    return 0


def cmd_dlq_show(settings: HubSettings, args: argparse.Namespace) -> int:
    """One DLQ record: what went wrong, its headers and its payload (masked)."""

    async def work() -> dict[str, Any] | None:
        only = ops.DeadLetterFilter(ids=frozenset([args.id]))
        found = await ops.read_dead_letters(settings, only)
        if not found:
            return None
        from hub.wire import DLQ_TOPIC

        letter = found[0]
        async with _serde(settings) as serde:
            value = await ops.render_value(serde, letter.value, letter.headers)
            await ops.audit(
                settings,
                serde,
                "cli dlq show" + (" --unmasked" if args.unmasked else ""),
                f"{DLQ_TOPIC} {letter.id}",
            )
        shown = letter.summary()
        clear = ops.masked if not args.unmasked else (lambda value: value)
        shown["message"] = clear(letter.header("hub.error.message"))
        shown["key"] = letter.key.decode(errors="replace") if letter.key is not None else None
        shown["headers"] = clear({k: v.decode(errors="replace") for k, v in letter.headers})
        shown["replayed"] = (await ops.read_ledger(settings)).get(letter.id)
        shown["value"] = value if args.unmasked else ops.masked(value)
        return shown

    shown = _run(work)
    if shown is None:
        raise HubError(f"no DLQ record {args.id}; ids are PARTITION:OFFSET (`hub dlq list`)")
    print(json.dumps(shown, ensure_ascii=False, indent=2, default=str))
    return 0


class _Progress:
    """A progress bar on a terminal; a line per step otherwise (logs, CI)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            filled = int(30 * done / total)
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if done == total else ""
            print(f"\r{self.label} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)
        else:
            print(f"{self.label}: {done}/{total}", file=sys.stderr, flush=True)


def cmd_dlq_replay(settings: HubSettings, args: argparse.Namespace) -> int:
    """Put DLQ records back into the pipeline, each once (exactly-once, see hub.ops)."""
    filters = [args.stage, args.reason, args.party, args.since, args.until]
    if not args.ids and not args.all and not any(filters):
        raise HubError(
            "name the records: IDs (PARTITION:OFFSET from `hub dlq list`), filters "
            "(--stage, --reason, --party, --since, --until), or --all"
        )
    where = _filter(args, args.ids)

    async def work() -> tuple[list[ops.DeadLetter], ops.ReplayOutcome | None]:
        letters = await ops.read_dead_letters(settings, where)
        missing = sorted(set(args.ids) - {letter.id for letter in letters})
        if missing:
            raise HubError(f"no DLQ record {', '.join(missing)} (matching the filters)")
        if args.dry_run or not letters:
            return letters, None
        outcome = await ops.replay(
            settings, letters, force=args.force, progress=_Progress("replaying")
        )
        if outcome.replayed:
            async with _serde(settings) as serde:
                await ops.audit(
                    settings,
                    serde,
                    "cli dlq replay",
                    f"{len(outcome.replayed)} record(s): {', '.join(outcome.replayed[:50])}",
                )
        return letters, outcome

    letters, outcome = _run(work)
    if outcome is None:
        targets = Counter(letter.source_topic for letter in letters)
        verb = "would replay" if args.dry_run else "nothing to replay:"
        print(f"{verb} {len(letters)} record(s)", *(f"\n  {t}: {n}" for t, n in targets.items()))
        return 0
    print(f"replayed {len(outcome.replayed)} record(s) to their source topics")
    if outcome.skipped:
        print(
            f"skipped {len(outcome.skipped)} already replayed ({', '.join(outcome.skipped[:10])}"
            f"{' ...' if len(outcome.skipped) > 10 else ''}); --force replays them again"
        )
    return 0


# --------------------------------------------------------------------- tail


def cmd_tail(settings: HubSettings, args: argparse.Namespace) -> int:
    """Records of a topic as JSON lines, Avro decoded through the registry."""

    async def work() -> int:
        # Ctrl-C and SIGTERM end the tail between two polls (at most half a second)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        count = 0
        async with _serde(settings) as serde:
            if args.unmasked:
                await ops.audit(settings, serde, "cli tail --unmasked", args.topic)
            records = ops.tail(
                settings,
                args.topic,
                from_beginning=args.from_beginning,
                follow=not args.no_follow,
                partition=args.partition,
                stop=stop,
            )
            async with aclosing(records):
                async for record in records:
                    _print_json(await ops.record_line(serde, record, unmasked=args.unmasked))
                    sys.stdout.flush()
                    count += 1
                    if (args.max and count >= args.max) or stop.is_set():
                        break
        return 130 if stop.is_set() else 0

    return _run(work)


# ------------------------------------------------------------------- orders


def cmd_orders_show(settings: HubSettings, args: argparse.Namespace) -> int:
    """An order's state, history and deadlines, from the dispatch engine's table."""
    from hub.records import KINDS
    from hub.reference import load_parties
    from hub.topics import load_topics

    specs = load_topics(settings.topics_dir, load_parties(settings.parties_file))
    partitions = next(s.partitions for s in specs if s.name == KINDS["order"].topic)

    async def work() -> dict[str, Any]:
        stored = await ops.find_order(settings, args.order_id, partitions)
        async with _serde(settings) as serde:
            reference = await load_reference(settings, serde)
            await ops.audit(settings, serde, "cli orders show", args.order_id)
        return ops.order_details(stored, ops.deadlines_of(settings), reference)

    print(json.dumps(_run(work), ensure_ascii=False, indent=2))
    return 0


# ------------------------------------------------------------------- status


def _readyz(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/readyz", timeout=5) as answer:  # noqa: S310
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read() or b"{}"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"status": "unreachable", "error": str(exc)}


def cmd_status(settings: HubSettings, args: argparse.Namespace) -> int:
    """Topics, consumer lag, connectors, DLQ and order SLA, in one view."""
    from hub.reference import load_parties
    from hub.topics import admin_client, load_topics, read_cluster
    from hub.wire import aiokafka_options, read_kafka_view

    parties = load_parties(settings.parties_file)
    specs = load_topics(settings.topics_dir, parties)
    with admin_client(settings) as admin:
        cluster = read_cluster(admin, [spec.name for spec in specs])
    missing = sorted(spec.name for spec in specs if spec.name not in cluster.topics)

    async def work() -> dict[str, Any]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(**aiokafka_options(settings))
        await admin.start()
        try:
            listed = await admin.list_consumer_groups()  # (group id, protocol type) tuples
            groups = sorted(g[0] for g in listed if str(g[0]).startswith(settings.app_id))
        finally:
            await admin.close()
        async def reference_now() -> Any:
            async with _serde(settings) as serde:
                return await load_reference(settings, serde)

        # independent readings, at once: the view takes as long as the slowest one
        view, letters, orders, reference, connectors, worker = await asyncio.gather(
            read_kafka_view(settings, groups, extra_topics=_traffic_topics(specs)),
            ops.read_dead_letters(settings),
            ops.read_orders(settings),
            reference_now(),
            _connector_status(settings),
            asyncio.to_thread(_readyz, args.worker or f"http://127.0.0.1:{settings.http_port}"),
        )
        sla = ops.order_sla(orders.values(), ops.deadlines_of(settings), reference)
        return {
            "kafka": {
                "bootstrap": settings.kafka_bootstrap,
                "brokers": cluster.brokers,
                "topics": len(specs) - len(missing),
                "topics_missing": missing,
            },
            "worker": worker,
            "lag": {
                group: {
                    topic: lag
                    for (g, topic, _), lag in sorted(view.lag.items())
                    if g == group and lag
                }
                | {"total": view.group_lag(group)}
                for group in groups
            },
            "traffic": _traffic(view.ends),
            "dlq": {
                "depth": view.dlq_depth,
                "by_stage": dict(Counter(letter.stage for letter in letters)),
                "by_reason": dict(Counter(letter.reason for letter in letters).most_common(10)),
            },
            "orders": sla,
            "connectors": connectors,
        }

    status = _run(work)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2, default=str))
        return 0
    _print_status(status)
    return 0


def _traffic_topics(specs: list[Any]) -> list[str]:
    return [s.name for s in specs if s.name.startswith(("raw.", "out.", "enf."))]


def _traffic(ends: dict[tuple[str, int], int]) -> dict[str, Any]:
    """Records ever written, per party (raw in, inbox out) and per canonical topic."""
    per_party: dict[str, dict[str, int]] = {}
    canonical: dict[str, int] = {}
    for (topic, _), end in ends.items():
        party = ops.party_of_topic(topic)
        if party is not None:
            side = "native_in" if topic.startswith("raw.") else "inbox"
            counts = per_party.setdefault(party, {"native_in": 0, "inbox": 0})
            counts[side] += end
        elif topic.startswith("enf."):
            canonical[topic] = canonical.get(topic, 0) + end
    return {"parties": {p: per_party[p] for p in sorted(per_party)}, "canonical": canonical}


async def _connector_status(settings: HubSettings) -> dict[str, Any]:
    from hub.wire import read_state

    store = await read_state(settings)
    try:
        names = sorted({key.split("/")[0] for key in store.entries if key.endswith("/status")})
        return {name: store.get(name, "status") or {} for name in names}
    finally:
        await store.stop()


def _print_status(status: dict[str, Any]) -> None:
    kafka = status["kafka"]
    missing = kafka["topics_missing"]
    print(
        f"kafka     {kafka['bootstrap']}: {kafka['brokers']} broker(s), {kafka['topics']} topics"
        + (f", MISSING {len(missing)} (run hub topics apply)" if missing else "")
    )
    worker = status["worker"]
    problems = [f"{k}: {v}" for k, v in (worker.get("checks") or {}).items() if v != "ok"]
    print(f"worker    {worker.get('status')}" + (f" ({'; '.join(problems)})" if problems else ""))
    for group, lags in status["lag"].items():
        detail = ", ".join(f"{t} {n}" for t, n in lags.items() if t != "total")
        print(f"lag       {group}: {lags['total']}" + (f" ({detail})" if detail else ""))
    dlq = status["dlq"]
    stages = ", ".join(f"{s} {n}" for s, n in sorted(dlq["by_stage"].items()))
    print(f"dlq       {dlq['depth']} record(s)" + (f" ({stages})" if stages else ""))
    orders = status["orders"]
    open_total = sum(c["open"] for c in orders.values())
    late_total = sum(c["overdue"] for c in orders.values())
    print(f"orders    {open_total} open, {late_total} overdue")
    for party, counts in sorted(orders.items()):
        if counts["overdue"]:
            print(f"          {party}: {counts['overdue']} overdue of {counts['open']} open")
    for name, state in status["connectors"].items():
        print(
            f"connector {name}: {state.get('state', '?')}, "
            f"{state.get('consecutive_failures', 0)} failure(s), backlog {state.get('backlog', 0)}"
        )
    parties = status["traffic"]["parties"]
    busy = {p: c for p, c in parties.items() if c["native_in"] or c["inbox"]}
    if busy:
        print("traffic   party: native records in / inbox records (all time)")
        for party, counts in busy.items():
            print(f"          {party}: {counts['native_in']} / {counts['inbox']}")


# ----------------------------------------------------------------- parsers


def add_commands(commands: Any) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="list, show and replay records of the dead-letter queue (hub.dlq.v1)",
        description="Records the hub could not process wait in hub.dlq.v1 with their "
        "original bytes and what went wrong (stage, reason, field). List and show them; "
        "once the cause is fixed (reference data, a mapping, the party's system), replay "
        "them into the pipeline: each is replayed once, atomically with its ledger entry.",
    )
    actions = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)

    def filters(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stage", help="only this stage (decode, map, validate, deliver, ...)")
        parser.add_argument("--reason", help="only this reason (rule code or error class)")
        parser.add_argument("--party", help="only records of this party")
        parser.add_argument("--since", help="parked since: 30m, 2h, 1d ago or an ISO time")
        parser.add_argument("--until", help="parked until: 30m, 2h, 1d ago or an ISO time")

    listing = actions.add_parser("list", help="DLQ records (metadata only)")
    filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="show the last N (0: all)")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.set_defaults(handler=cmd_dlq_list)

    show = actions.add_parser("show", help="one DLQ record with headers and payload")
    show.add_argument("id", metavar="ID", help="PARTITION:OFFSET, as `hub dlq list` shows")
    show.add_argument(
        "--unmasked", action="store_true", help="show personal data in clear (audited)"
    )
    show.set_defaults(handler=cmd_dlq_show)

    again = actions.add_parser(
        "replay",
        help="put DLQ records back into their source topics (each once)",
        description="Replays the named or matching DLQ records to the topic each came "
        "from, with its original key and headers. Records replayed before are skipped "
        "(--force replays them again). Fix the cause first, or they come back.",
    )
    again.add_argument("ids", nargs="*", metavar="ID", help="PARTITION:OFFSET ids")
    filters(again)
    again.add_argument("--all", action="store_true", help="every DLQ record")
    again.add_argument("--force", action="store_true", help="replay already replayed ones too")
    again.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    again.set_defaults(handler=cmd_dlq_replay)

    tail = commands.add_parser(
        "tail",
        help="print a topic's records as JSON lines, decoded through the registry",
        description="Follow TOPIC from its end (Ctrl-C stops), or read it from the start. "
        "Avro values are decoded with their writer schema; native records are shown as "
        "JSON or text. Mobile numbers and citizen ids are masked unless --unmasked.",
    )
    tail.add_argument("topic", metavar="TOPIC")
    tail.add_argument("--from-beginning", action="store_true", help="start at the log start")
    tail.add_argument(
        "--no-follow", action="store_true", help="stop at the end the topic has now"
    )
    tail.add_argument("--max", type=int, default=0, help="stop after N records")
    tail.add_argument("--partition", type=int, help="only this partition")
    tail.add_argument("--unmasked", action="store_true", help="personal data in clear (audited)")
    tail.set_defaults(handler=cmd_tail)

    orders = commands.add_parser("orders", help="look up dispatch orders")
    order_actions = orders.add_subparsers(dest="orders_command", metavar="ACTION", required=True)
    show_order = order_actions.add_parser(
        "show", help="an order's state, history, deadlines and which of them passed"
    )
    show_order.add_argument("order_id", metavar="ORDER_ID")
    show_order.set_defaults(handler=cmd_orders_show)

    status = commands.add_parser(
        "status",
        help="topics, consumer lag, connectors, DLQ size and overdue orders at a glance",
    )
    status.add_argument("--json", action="store_true", help="the whole status as JSON")
    status.add_argument(
        "--worker", help="a worker's base URL for /readyz (default http://127.0.0.1:HUB_HTTP_PORT)"
    )
    status.set_defaults(handler=cmd_status)
