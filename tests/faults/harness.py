"""The fault suite's moving parts: brokers, workers, traffic, faults.

A case starts workers of one app (`Workers`) on a broker or a three-node cluster
(`Brokers`), sends seeded traffic over HTTP at a bounded rate (`Traffic`: orders from
streets to a department, each followed by its SIGNED, REPORTED and FEEDBACK events,
and clues that the hub turns into ASSIGNMENTs), and calls the case's faults when the
traffic reaches given fractions. `tests.faults.checker` then compares what was accepted
(202) with what every addressed inbox holds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.http import TokenStore
from tests.conftest import ROOT, free_port

HUB = str(ROOT / ".venv" / "bin" / "hub")
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
DEPARTMENT = "dept-urban"
STREETS = ["street-jiyuqiao", "street-yangyuan", "street-xujiapeng", "street-liangdao"]
STORY = [("SIGNED", {}), ("REPORTED", {}), ("FEEDBACK", {"comment": "已核查处理，现场已恢复"})]
POISON = "fault.poison"  # the header of records a case sends bad on purpose
MATTER = "URB-001"  # delegated to streets: a department's clue becomes an ASSIGNMENT


def progress(text: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {text}", flush=True)


# ------------------------------------------------------------------ brokers


@dataclass
class Brokers:
    """The local broker (one node) or three-node cluster of deploy/kafka/kafka.sh."""

    nodes: int
    port: int
    data: Path

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * i}" for i in range(self.nodes))

    def _sh(self, *args: str) -> None:
        result = subprocess.run(
            [str(KAFKA_SH), *args, "--nodes", str(self.nodes), "--port", str(self.port),
             "--data", str(self.data)],
            capture_output=True, text=True, timeout=180, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {' '.join(args)}: {result.stdout}{result.stderr}")

    def start(self) -> None:
        self._sh("start")

    def reset(self) -> None:
        self._sh("reset")

    def stop(self) -> None:
        self._sh("stop")

    def pid(self, node: int) -> int | None:
        path = self.data / f"node-{node}" / "kafka.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self, node: int) -> None:
        pid = self.pid(node)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            progress(f"broker node {node} SIGKILLed")

    def restart_missing(self) -> None:
        self._sh("start")
        progress("brokers back")


# ------------------------------------------------------------------ workers


class Workers:
    """`hub worker` processes of one app id; each keeps its port (and so its static
    group member id) across restarts."""

    def __init__(self, bootstrap: str, app_id: str, data: Path, **settings: str) -> None:
        self.bootstrap = bootstrap
        self.app_id = app_id
        self.data = data
        self.settings = settings
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.starts = 0
        data.mkdir(parents=True, exist_ok=True)

    def env(self, name: str = "w0") -> dict[str, str]:
        port = self.ports.setdefault(name, free_port())
        return {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_APP_ID": self.app_id,
            "HUB_DATA_DIR": str(self.data / name),
            "HUB_TOKENS_FILE": str(self.data / "tokens.json"),
            "HUB_HTTP_PORT": str(port),
            "HUB_KAFKA_SESSION_TIMEOUT": "10",
            "HUB_KAFKA_OFFSET_RESET": "earliest",
            "HUB_LOG_FORMAT": "text",
            **self.settings,
        }

    def hub(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [HUB, *args], env=self.env(), capture_output=True, text=True, timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def prepare(self, parties: list[str]) -> dict[str, str]:
        self.hub("topics", "apply")
        self.hub("reference", "load")
        store = TokenStore(self.data / "tokens.json")  # as `hub tokens issue`, one process
        return {party: store.issue(party)[0] for party in parties}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> Path:
        return self.data / f"{name}.log"

    def start(self, name: str, wait: bool = True) -> None:
        self.starts += 1
        env = self.env(name)
        with self.log(name).open("a") as out:
            out.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n")
            out.flush()
            self.procs[name] = subprocess.Popen(
                [HUB, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        if wait:
            self.wait_healthy(name)

    def wait_healthy(self, name: str, seconds: float = 90.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited: {self.tail(name)}")
            try:
                with urllib.request.urlopen(f"{self.url(name)}/healthz", timeout=2):  # noqa: S310
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"worker {name} not healthy in {seconds:.0f} s: {self.tail(name)}")

    def wait_ready(self, names: list[str] | None = None, seconds: float = 120.0) -> float:
        """Until every worker's /readyz says ready; returns how long it took."""
        started = time.monotonic()
        pending = list(names or self.procs)
        while pending:
            if time.monotonic() - started > seconds:
                raise RuntimeError(f"workers {pending} not ready in {seconds:.0f} s")
            name = pending[0]
            try:
                with urllib.request.urlopen(f"{self.url(name)}/readyz", timeout=5):  # noqa: S310
                    pending.pop(0)
                    continue
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        return time.monotonic() - started

    def signal(self, name: str, sig: signal.Signals) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            progress(f"worker {name} got {sig.name}")

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop(self, name: str, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        proc = self.procs[name]
        started = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        took = time.monotonic() - started
        return proc.returncode, took

    def live(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is None]

    def stop_all(self) -> None:
        for name in list(self.procs):
            if self.procs[name].poll() is None:
                self.signal(name, signal.SIGCONT)
                self.stop(name)

    def tail(self, name: str, chars: int = 3000) -> str:
        try:
            return self.log(name).read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def count_in_logs(self, text: str) -> int:
        return sum(self.log(n).read_text(errors="replace").count(text) for n in self.procs)


# ------------------------------------------------------------------ traffic


@dataclass
class Sent:
    """What the hub accepted (202), by id, and whom each record is addressed to."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    clues: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted_at: dict[str, float] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    answers_5xx: dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0

    @property
    def accepted(self) -> int:
        return len(self.orders) + len(self.events) + len(self.clues)

    def expected(self) -> set[tuple[str, str]]:
        """(party, record id) of every delivery the hub owes: an order to its
        recipient, each event to the street and the department, a clue's ASSIGNMENT to
        its street (as ``clue:<clue id>``)."""
        owed: set[tuple[str, str]] = set()
        for order_id in self.orders:
            owed.add((DEPARTMENT, order_id))
        for event_id, event in self.events.items():
            order = self.orders[event["order_id"]]
            owed.add((order["street"], event_id))
            owed.add((DEPARTMENT, event_id))
        for clue_id, clue in self.clues.items():
            owed.add((clue["street"], f"clue:{clue_id}"))
        return owed


class Traffic:
    """Seeded stories posted over HTTP: `orders` orders (each then SIGNED, REPORTED,
    FEEDBACK by the department) and `clues` clues, at most `rate` requests/s, to the
    live workers in turn; 429/503 and connection errors are retried after Retry-After."""

    def __init__(
        self,
        workers: Workers,
        tokens: dict[str, str],
        orders: int,
        clues: int,
        rate: float,
        seed: int,
    ) -> None:
        self.workers = workers
        self.tokens = tokens
        self.rate = rate
        self.random = random.Random(seed)  # noqa: S311 - a seeded traffic mix, not a secret
        self.run_id = f"{seed}-{uuid.uuid4().hex[:6]}"
        self.sent = Sent()
        stories = [("order", n) for n in range(orders)] + [("clue", n) for n in range(clues)]
        self.random.shuffle(stories)
        self._stories = stories
        self.total = orders * (1 + len(STORY)) + clues
        self.done = 0
        self._turn = 0
        self._stop = threading.Event()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def _post(self, path: str, party: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST until accepted (the answer) or refused for good (None)."""
        data = json.dumps(body, ensure_ascii=False).encode()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not self._stop.is_set():
            live = self.workers.live() or list(self.workers.procs)
            name = live[self._turn % len(live)]
            self._turn += 1
            request = urllib.request.Request(  # noqa: S310
                self.workers.url(name) + path,
                data=data,
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.tokens[party]}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
                    result: dict[str, Any] = json.load(answer)
                    return result
            except urllib.error.HTTPError as error:
                with error:
                    text = error.read().decode(errors="replace")
                    retry_after = error.headers.get("Retry-After")
                if error.code >= 500:
                    self.sent.answers_5xx[error.code] = self.sent.answers_5xx.get(error.code, 0) + 1
                    if retry_after is None:
                        self.sent.retry_after_missing += 1
                    time.sleep(min(float(retry_after or 1), 5.0))
                    continue
                if error.code == 429:
                    time.sleep(min(float(retry_after or 1), 5.0))
                    continue
                self.sent.refused.append(f"{path} {error.code}: {text[:300]}")
                return None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)  # the worker is down or restarting: the next one
        self.sent.refused.append(f"{path}: gave up after 300 s")
        return None

    def run(self, on_progress: Callable[[float], None]) -> None:
        """Send everything, calling on_progress(fraction) after each accepted record."""
        interval = 1.0 / self.rate
        now = datetime.now(UTC)
        pending: list[list[tuple[str, str, dict[str, Any]]]] = []
        for kind, n in self._stories:
            street = STREETS[n % len(STREETS)]
            if kind == "clue":
                pending.append([("clue", DEPARTMENT, {
                    "source_party": DEPARTMENT,
                    "source_id": f"FC-{self.run_id}-{n}",
                    "occurred_at": now.isoformat(),
                    "origin": "DEPARTMENT",
                    "street": street,
                    "location": {"address": f"武昌区测试路{n}号"},
                    "matter_code": MATTER,
                    "description": f"故障测试线索 {n}",
                })])
                continue
            order = {
                "source_party": street,
                "source_id": f"FO-{self.run_id}-{n}",
                "occurred_at": now.isoformat(),
                "order_type": "WHISTLE",
                "from_party": street,
                "to_parties": [DEPARTMENT],
                "matter_code": MATTER,
                "issued_at": now.isoformat(),
                "deadline": (now + timedelta(days=2)).isoformat(),
                "description": f"故障测试派单 {n}",
            }
            story = [("order", street, order)]
            for index, (event_type, extra) in enumerate(STORY):
                story.append(("order-event", DEPARTMENT, {
                    "source_party": DEPARTMENT,
                    "source_id": f"FE-{self.run_id}-{n}-{index}",
                    "occurred_at": now.isoformat(),
                    "event_type": event_type,
                    "actor_party": DEPARTMENT,
                    **extra,
                }))
            pending.append(story)
        # a few stories at a time, so that an order's events follow it closely
        active: list[list[tuple[str, str, dict[str, Any]]]] = []
        order_of: dict[int, str] = {}
        next_at = time.monotonic()
        while (pending or active) and not self._stop.is_set():
            while len(active) < 8 and pending:
                active.append(pending.pop(0))
            story = active[self.random.randrange(len(active))]
            kind, party, body = story.pop(0)
            if not story:
                active.remove(story)
            if kind == "order-event":
                order_id = order_of.get(id(story))
                if order_id is None:  # its order was refused: nothing to act on
                    self.done += 1
                    continue
                body = {**body, "order_id": order_id}
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - 1.0)
            answer = self._post(f"/v1/records/{kind}", party, body)
            self.done += 1
            if answer is not None:
                record_id = str(answer["record_id"])
                self.sent.accepted_at[record_id] = time.time()
                if kind == "order":
                    order_of[id(story)] = record_id
                    self.sent.orders[record_id] = {"street": party, "events": []}
                elif kind == "order-event":
                    self.sent.events[record_id] = {
                        "order_id": body["order_id"], "type": body["event_type"]
                    }
                    self.sent.orders[body["order_id"]]["events"].append(record_id)
                else:
                    self.sent.clues[record_id] = {"street": body["street"]}
            on_progress(self.fraction)

    def stop(self) -> None:
        self._stop.set()
