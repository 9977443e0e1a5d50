"""`make faults`: the hub under worker crashes, stalls, rebalances, broker failures, an
unwritable schema topic and poison records, checked by one checker (`checker`); and
schemathesis against the hub's own OpenAPI document as every party (`contract`).

    python -m tests.faults.suite [--profile full|short] [--runs N] [--only a,b]

Each case starts its own workers (a new app id, so groups and changelogs are its own)
on the suite's broker (port 29192, or the three-node cluster on 29292), sends seeded
traffic over HTTP, injects its faults at fractions of the traffic, waits for the hub to
settle and checks: accepted = delivered to every addressed inbox (lost 0), duplicates
counted, per-order event order, every order's view, the DLQ. Results go to
``faults/results/latest.md`` and ``latest.json``; the exit code is 1 when a case lost
anything or broke another rule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from hub.registry import RegistryClient
from hub.serde import AvroSerde
from tests.conftest import ROOT
from tests.faults.checker import Result, _read_topic, check
from tests.faults.contract import run_schemathesis, token_parties
from tests.faults.harness import (
    DEPARTMENT,
    POISON,
    STREETS,
    Brokers,
    Traffic,
    Workers,
    progress,
)
from tests.faults.poison import corpus, order_body

RESULTS = ROOT / "faults" / "results"
PARTIES = [*STREETS, DEPARTMENT, "justice", "ops"]
# Below Linux's ephemeral range (32768-60999): a client's outgoing connection can hold a
# port up there, and a broker that cannot bind its port exits during start-up.
SINGLE_PORT = 29192
CLUSTER_PORT = 29292


@dataclass
class Run:
    """One case in progress: its brokers, workers, traffic and what it noted."""

    brokers: Brokers
    workers: Workers
    traffic: Traffic | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: int = 0
    timers: list[threading.Timer] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems += 1
        self.notes.append(text)
        progress(f"PROBLEM: {text}")


Fault = Callable[[Run], None]


@dataclass
class Case:
    name: str
    title: str
    workers: int
    faults: list[tuple[float, Fault]]
    orders: int
    clues: int
    rate: float
    nodes: int = 1
    poison: bool = False
    contract: int = 0  # schemathesis examples per operation, instead of traffic
    settings: dict[str, str] = field(default_factory=dict)  # the workers' HUB_* overrides


# ------------------------------------------------------------------ faults


def kill_restart(name: str) -> Fault:
    """SIGKILL a worker and start it again at once: within the session timeout, with its
    static member id, so the others must see no rebalance (counted at the end)."""

    def fault(run: Run) -> None:
        run.workers.kill(name)
        run.workers.start(name, wait=False)
        run.extra["kills"] = run.extra.get("kills", 0) + 1

    return fault


def sigstop(name: str, seconds: float) -> Fault:
    """SIGSTOP a worker, SIGCONT it seconds later (the traffic goes on meanwhile)."""

    def fault(run: Run) -> None:
        run.workers.signal(name, signal.SIGSTOP)
        timer = threading.Timer(seconds, run.workers.signal, (name, signal.SIGCONT))
        timer.daemon = True
        timer.start()
        run.timers.append(timer)

    return fault


def join(name: str) -> Fault:
    def fault(run: Run) -> None:
        run.workers.start(name, wait=False)

    return fault


def leave(name: str) -> Fault:
    def fault(run: Run) -> None:
        code, took = run.workers.stop(name)
        run.extra.setdefault("leaves", []).append({"worker": name, "exit": code,
                                                   "seconds": round(took, 1)})
        if code != 0 or took > 15:
            run.problem(f"worker {name} left with exit {code} after {took:.1f} s")

    return fault


def broker_bounce(node: int, down: float) -> Fault:
    def fault(run: Run) -> None:
        run.brokers.kill(node)
        time.sleep(down)
        run.brokers.restart_missing()

    return fault


def two_brokers_down(nodes: tuple[int, int], down: float) -> Fault:
    """Two of three down: the gateway must answer 503 with Retry-After and accept again
    once one is back; nothing it accepted may be lost."""

    def fault(run: Run) -> None:
        before = sum(run.traffic.sent.answers_5xx.values()) if run.traffic else 0
        for node in nodes:
            run.brokers.kill(node)
        time.sleep(down)
        during = (sum(run.traffic.sent.answers_5xx.values()) if run.traffic else 0) - before
        run.extra["503_while_two_down"] = during
        if during == 0 and run.traffic is not None and run.traffic.fraction < 1:
            run.problem("the gateway never answered 503 while two of three brokers were down")
        run.brokers.restart_missing()

    return fault


def schemas_unwritable(seconds: float) -> Fault:
    """_schemas refuses writes for seconds: the records keep flowing (every schema is
    registered at start) and /readyz names the registry. Kafka 4.1 caps
    min.insync.replicas at the replication factor, so on one broker the topic is made
    to refuse every record by its max.message.bytes instead."""

    def fault(run: Run) -> None:
        admin = KafkaAdminClient(bootstrap_servers=run.brokers.bootstrap)
        topic = ConfigResource(ConfigResourceType.TOPIC, "_schemas",
                               configs={"max.message.bytes": "16"})
        admin.alter_configs([topic])
        started = time.monotonic()
        saw_not_ready = None
        while time.monotonic() - started < seconds:
            if saw_not_ready is None and "registry" in _readyz(run).get("failing", ""):
                saw_not_ready = time.monotonic() - started
            time.sleep(1)
        restore = ConfigResource(ConfigResourceType.TOPIC, "_schemas",
                                 configs={"max.message.bytes": "1048588"})
        admin.alter_configs([restore])
        admin.close()
        back = None
        restored = time.monotonic()
        while time.monotonic() - restored < 60:
            if "registry" not in _readyz(run).get("failing", "registry"):
                back = time.monotonic() - restored
                break
            time.sleep(1)
        run.extra["readyz_not_ready_after_s"] = saw_not_ready
        run.extra["readyz_ready_again_after_s"] = back
        if saw_not_ready is None or saw_not_ready > 30:
            run.problem(f"/readyz did not name the registry within 30 s ({saw_not_ready})")
        if back is None or back > 30:
            run.problem(f"/readyz not ready again within 30 s of the fix ({back})")

    return fault


def _readyz(run: Run) -> dict[str, str]:
    for name in run.workers.live():
        try:
            with urllib.request.urlopen(f"{run.workers.url(name)}/readyz", timeout=5):  # noqa: S310
                return {"failing": ""}
        except urllib.error.HTTPError as error:
            with error:
                body = json.load(error)
            failing = [k for k, v in body.get("checks", {}).items() if v != "ok"]
            return {"failing": ",".join(failing)}
        except (urllib.error.URLError, OSError):
            continue
    return {}


# ------------------------------------------------------------------ cases


def cases(profile: str) -> list[Case]:
    full = profile == "full"
    n = (lambda big, small: big if full else small)  # noqa: E731
    return [
        Case("kill", "worker SIGKILL x3 (3 %, 45 %, 70 %), restarted at once; two workers",
             2, [(0.03, kill_restart("w1")), (0.45, kill_restart("w0")),
                 (0.70, kill_restart("w1"))],
             orders=n(600, 50), clues=n(200, 10), rate=n(40, 12),
             # the short profile runs in make test beside other test runs on two cores,
             # where a restarted worker can take longer than 10 s to rejoin: a session it
             # can rejoin within (the full profile runs alone, at 10 s)
             settings={} if full else {"HUB_KAFKA_SESSION_TIMEOUT": "30"}),
        Case("sigstop", "worker SIGSTOP 15 s (past the 10 s session timeout), then SIGCONT",
             2, [(0.3, sigstop("w1", 15)), (0.7, sigstop("w0", 15))],
             orders=n(500, 60), clues=n(100, 10), rate=n(40, 30)),
        Case("rebalance", "one worker; a second joins at 20 %, a third at 45 %, one leaves "
             "at 70 %", 1, [(0.2, join("w1")), (0.45, join("w2")), (0.7, leave("w1"))],
             orders=n(600, 50), clues=n(100, 10), rate=n(40, 30)),
        Case("brokers", "three brokers (RF 3, min ISR 2): one SIGKILLed and restarted "
             "twice, on different brokers; then two of three down for 30 s", 2,
             [(0.25, broker_bounce(2, 10)), (0.5, broker_bounce(3, 10)),
              (0.75, two_brokers_down((1, 2), 30))],
             orders=n(500, 200), clues=n(100, 20), rate=n(20, 8), nodes=3),
        Case("schemas", "_schemas unwritable for 60 s while records arrive", 1,
             [(0.2, schemas_unwritable(n(60, 35)))],
             orders=n(300, 60), clues=n(50, 10), rate=n(30, 25)),
        Case("poison", "poison corpus (69 kinds) written straight to the topics among "
             "good traffic, then a fix and `hub dlq replay`", 1, [],
             orders=n(200, 20), clues=n(50, 5), rate=n(30, 25), poison=True),
        Case("contract", "schemathesis (every check) against /v1/openapi.json, each request "
             f"with the next of {len(token_parties())} parties' tokens", 1, [],
             orders=0, clues=0, rate=1, contract=n(40, 10)),
    ]


# ------------------------------------------------------------------ running


def _settle(case: Case, run: Run, registry: str, sent: Any, seconds: float) -> Result:
    deadline = time.monotonic() + seconds
    while True:
        result = check(case.name, run.brokers.bootstrap, registry, run.workers.app_id, sent)
        if (result.lost == 0 and result.wrong_views == 0) or time.monotonic() > deadline:
            return result
        time.sleep(5)


def run_case(case: Case, work: Path, single: Brokers) -> Result:
    started = time.monotonic()
    brokers = Brokers(3, CLUSTER_PORT, work / "cluster") if case.nodes == 3 else single
    app_id = f"faults-{case.name}-{uuid.uuid4().hex[:6]}"
    workers = Workers(brokers.bootstrap, app_id, work / app_id, HUB_PARK_SECONDS="8",
                      **case.settings)
    run = Run(brokers, workers)
    try:
        if case.nodes == 3:  # a cluster that does not start fails its case, not the suite
            brokers.reset()
            brokers.start()
        tokens = workers.prepare(token_parties() if case.contract else PARTIES)
        names = [f"w{i}" for i in range(case.workers)]
        for name in names:
            workers.start(name)
        workers.wait_ready(names)
        result = _contract(case, run, tokens) if case.contract else _traffic(case, run, tokens)
        for name in list(workers.live()):
            code, took = workers.stop(name)
            result.extra.setdefault("shutdown", []).append(
                {"worker": name, "exit": code, "seconds": round(took, 1)})
            if code != 0 or took > 15:
                run.problem(f"worker {name} stopped with exit {code} after {took:.1f} s")
    except Exception as exc:  # noqa: BLE001 - a broken case is reported, the suite goes on
        result = Result(case=case.name)
        run.problem(f"case failed: {exc!r}")
    finally:
        if run.traffic is not None:
            run.traffic.stop()
        workers.stop_all()
        if case.nodes == 3:
            brokers.stop()
    result.notes += run.notes
    result.extra.update(run.extra)
    result.extra["problems"] = run.problems
    result.seconds = round(time.monotonic() - started, 1)
    progress(f"{case.name}: accepted {result.accepted}, lost {result.lost}, duplicates "
             f"{result.duplicates}, order violations {result.order_violations}, wrong views "
             f"{result.wrong_views}, 5xx {result.answers_5xx}, ok={result.ok}")
    return result


def _traffic(case: Case, run: Run, tokens: dict[str, str]) -> Result:
    """Seeded traffic with the case's faults at their fractions, then the checker."""
    workers = run.workers
    traffic = Traffic(workers, tokens, case.orders, case.clues, case.rate,
                      seed=zlib.crc32(case.name.encode()) & 0xFFFF)
    run.traffic = traffic
    faults = sorted(case.faults, key=lambda f: f[0])
    poison_state: dict[str, Any] = {}
    sender = threading.Thread(target=traffic.run, args=(lambda _: None,), daemon=True)
    progress(f"{case.name}: {traffic.total} requests at {case.rate:g}/s")
    sender.start()
    poisoned = False
    while sender.is_alive():
        if faults and traffic.fraction >= faults[0][0]:
            at, fault = faults.pop(0)
            progress(f"{case.name}: fault at {traffic.fraction:.0%}")
            fault(run)
        if case.poison and not poisoned and traffic.fraction >= 0.3:
            poisoned = True
            poison_state = _write_poison(run, workers.url("w0"))
        time.sleep(0.2)
    sender.join()
    for _, fault in faults:  # faults past the last request still happen
        fault(run)
    for timer in run.timers:
        timer.join()
    for name in workers.live():
        workers.wait_healthy(name)
    registry = workers.url(workers.live()[0]) + "/registry"
    if case.poison:
        _check_poison(run, poison_state, tokens)
    result = _settle(case, run, registry, traffic.sent, 180)
    if case.name == "kill":
        # each start logs "Worker ready" once, and w0 once more when w1 first joined;
        # any other line is a rebalance that a restart within the session caused
        readies = workers.count_in_logs("Worker ready")
        starts = workers.starts + case.workers - 1
        result.extra["rebalances_after_restarts"] = readies - starts
        if readies != starts:
            run.problem(f"restarts within the session timeout caused {readies - starts} "
                        "rebalance(s)")
    return result


def _contract(case: Case, run: Run, tokens: dict[str, str]) -> Result:
    """schemathesis as every party: any finding, a 5xx above all, is a problem, and so is
    a traceback in the worker's log."""
    seed = zlib.crc32(run.workers.app_id.encode()) & 0xFFFF  # new cases every run, said
    found = run_schemathesis(run.workers.url("w0"), tokens, run.workers.data / "contract",
                             case.contract, seed=seed)
    result = Result(case=case.name, answers_5xx=found.server_errors)
    run.extra.update(seed=seed, requests=found.requests, parties=len(tokens),
                     findings=len(found.findings), schemathesis_seconds=found.seconds)
    for finding in found.findings:
        run.problem(f"schemathesis: {finding}")
    if found.details:
        run.notes.append("schemathesis said:\n\n  ```\n  " + found.details.replace("\n", "\n  ")
                         + "\n  ```")
    if found.exit_code != 0 and not found.findings:
        run.problem(f"schemathesis exited {found.exit_code}: see "
                    f"{run.workers.data / 'contract' / 'schemathesis.log'}")
    log = run.workers.tail("w0", 10**8)
    if "Traceback" in log:
        at = log.index("Traceback")
        run.problem(f"the worker logged a traceback: {log[max(0, at - 300):at + 1500]}")
    progress(f"{case.name}: {found.requests} requests as {len(tokens)} parties, "
             f"{len(found.findings)} findings, {found.server_errors} 5xx")
    return result


def _write_poison(run: Run, worker: str) -> dict[str, Any]:
    async def write() -> dict[str, Any]:
        async with RegistryClient(worker + "/registry") as client:
            serde = AvroSerde(client)
            run_id = uuid.uuid4().hex[:6]
            items, prelude, awaited = await corpus(serde, run_id)
            producer = AIOKafkaProducer(bootstrap_servers=run.brokers.bootstrap, acks="all",
                                        max_request_size=4 * 1024 * 1024)
            await producer.start()
            try:
                for order in prelude:
                    await producer.send_and_wait(
                        "enf.order.v1", key=str(order.order_id).encode(),
                        value=await serde.encode("order", order))
                await asyncio.sleep(2)  # the out-of-state events need their orders first
                for item in items:
                    headers = [(k, v) for k, v in item.headers]
                    await producer.send_and_wait(item.topic, key=item.key, value=item.value,
                                                 headers=headers)  # type: ignore[arg-type]
            finally:
                await producer.stop()
            return {"items": items, "awaited": awaited, "run": run_id}

    state = asyncio.run(write())
    progress(f"poison: wrote {len(state['items'])} kinds")
    return state


def _check_poison(run: Run, state: dict[str, Any], tokens: dict[str, str]) -> None:
    items = state["items"]
    bootstrap = run.brokers.bootstrap

    def parked() -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for record in asyncio.run(_read_topic(bootstrap, "hub.dlq.v1")):
            headers = dict(record.headers or [])
            run_of, _, number = (headers.get(POISON) or b"").decode().rpartition("/")
            if run_of == state["run"]:  # an earlier run's poison is in the same DLQ
                found[int(number)] = {
                    "id": f"{record.partition}:{record.offset}",
                    "reason": headers.get("hub.error.class", b"").decode(),
                    "truncated": headers.get("hub.error.truncated") == b"true",
                }
        return found

    deadline = time.monotonic() + 90
    found = parked()
    while len([i for i in items if i.number in found]) < len(items):
        if time.monotonic() > deadline:
            break
        time.sleep(3)
        found = parked()
    mine = {i.number: found.get(i.number) for i in items}
    missing = [i.kind for i in items if mine[i.number] is None]
    run.extra["poison_kinds"] = len(items)
    run.extra["poison_parked"] = len(items) - len(missing)
    run.extra["poison_reasons"] = {i.kind: (mine[i.number] or {}).get("reason") for i in items}
    for item in items:
        entry = mine[item.number]
        if entry is None:
            continue
        if "at the record limit" in item.kind and not entry["truncated"]:
            run.problem(f"{item.kind}: parked without hub.error.truncated")
        if "at the record limit" not in item.kind and entry["truncated"]:
            run.problem(f"{item.kind}: truncated although it fits")
    if missing:
        run.problem(f"poison not parked: {missing}")
    # the fix: publish the orders those events waited for, then replay them
    traffic = run.traffic
    assert traffic is not None  # noqa: S101
    for order in state["awaited"]:
        body = order_body(state["run"], int(order.source_id.rsplit("-", 1)[1]))
        answer = traffic._post("/v1/records/order", order.source_party, body)
        if answer is None:
            run.problem(f"could not publish the awaited order {order.order_id}")
            continue
        traffic.sent.orders[str(answer["record_id"])] = {"street": order.from_party, "events": []}
        traffic.sent.accepted_at[str(answer["record_id"])] = time.time()
    ids = [mine[i.number]["id"] for i in items if i.later and mine[i.number]]
    if ids:
        replay = run.workers.hub("dlq", "replay", *ids, check=False)
        run.extra["replayed"] = len(ids)
        run.notes.append(f"replay: {replay.strip().splitlines()[-1] if replay.strip() else ''}")
        # the replayed SIGNED events are owed to both parties now
        async def events() -> list[str]:
            async with RegistryClient(run.workers.url(run.workers.live()[0]) + "/registry") as c:
                serde = AvroSerde(c)
                out = []
                for item in items:
                    if item.later:
                        datum = await serde.decode_any(item.value or b"")
                        out.append((str(datum["event_id"]), str(datum["order_id"])))
                return out  # type: ignore[return-value]
        for event_id, order_id in asyncio.run(events()):  # type: ignore[misc]
            traffic.sent.events[event_id] = {"order_id": order_id, "type": "SIGNED"}
            traffic.sent.orders[order_id]["events"].append(event_id)
            traffic.sent.accepted_at[event_id] = time.time()


# ------------------------------------------------------------------ results


COLUMNS = ["case", "accepted", "owed", "delivered", "lost", "duplicates", "order_violations",
           "wrong_views", "unexpected_dlq", "answers_5xx", "p50_s", "p99_s", "max_s", "seconds",
           "ok"]


def write_results(runs: list[list[Result]], cases_run: list[Case], profile: str,
                  took: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "profile": profile,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(took, 1),
        "runs": [[r.as_dict() for r in results] for results in runs],
    }
    (RESULTS / "latest.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    titles = {c.name: c.title for c in cases_run}
    lines = [
        f"# Fault suite ({profile} profile), {data['when']}, {took / 60:.1f} min",
        "",
        "accepted: records answered 202; owed: deliveries to addressed inboxes; lost: owed "
        "and in no inbox; latency from the 202 to the first copy in an inbox (s).",
        "",
    ]
    for number, results in enumerate(runs, 1):
        lines += [f"## Run {number}", "", "| " + " | ".join(COLUMNS) + " |",
                  "|" + "---|" * len(COLUMNS)]
        for r in results:
            row = r.as_dict()
            lines.append("| " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
        lines.append("")
    lines += ["## Cases", ""]
    for name, title in titles.items():
        lines.append(f"- **{name}**: {title}")
    lines += ["", "## Notes", ""]
    for number, results in enumerate(runs, 1):
        for r in results:
            extra = {k: v for k, v in r.extra.items() if k != "poison_reasons"}
            lines.append(f"- run {number} {r.case}: {json.dumps(extra, ensure_ascii=False)}")
            lines += [f"  - {note}" for note in r.notes[:8]]
    reasons = next((r.extra["poison_reasons"] for rs in runs for r in rs
                    if "poison_reasons" in r.extra), None)
    if reasons:
        lines += ["", "## Poison kinds and the reason each was parked with", "",
                  "| kind | reason |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in reasons.items()]
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.suite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["full", "short"], default="full")
    parser.add_argument("--runs", type=int, default=3, help="consecutive runs (default 3)")
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep brokers' and workers' data and logs in this folder")
    args = parser.parse_args(argv)
    chosen = [c for c in cases(args.profile)
              if not args.only or c.name in args.only.split(",")]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hub-faults-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        single = Brokers(1, SINGLE_PORT, work / "broker")
        single.reset()
        single.start()
        runs: list[list[Result]] = []
        try:
            for number in range(args.runs):
                progress(f"run {number + 1} of {args.runs}")
                runs.append([run_case(case, work, single) for case in chosen])
                write_results(runs, chosen, args.profile, time.monotonic() - started)
        finally:
            single.stop()
    print((RESULTS / "latest.md").read_text())
    return 0 if all(r.ok for rs in runs for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
