"""The operators' page, /ops, in Debian's chromium driven by Playwright (``executable_path``,
no browser download) against a running worker.

Traffic goes through the hub first: orders from a street to a department (one of them
already overdue), an order breaking a rule (refused with 422), and a raw record of a
native kind nobody maps, written straight to the street's raw topic (parked in the DLQ).
Once /metrics shows all of it and holds still, the page must show the very numbers
/metrics serves; it must then follow new traffic by itself, log no JS error, and leave a
screenshot in the artefact directory (HUB_TEST_ARTEFACTS, default <repo>/.artefacts).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, async_playwright
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.integration.conftest import chromium_executable, issue_tokens, running_worker, worker_env
from tests.samples import sample

HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET, DEPARTMENT = "street-jiyuqiao", "dept-urban"
PARTIES = (STREET, DEPARTMENT, "justice", "ops")
ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", str(ROOT / ".artefacts")))
UNKNOWN_NATIVE_KIND = "no-such-native-kind"
TILES = {  # element id on the page → key of `Shown.totals`
    "total-in": "in",
    "total-out": "out",
    "total-rejected": "rejected",
    "dlq-depth": "dlq_depth",
    "open-orders": "open_orders",
    "overdue-orders": "overdue_orders",
    "lag-total": "lag",
    "delivery-failures": "delivery_failures",
}

# What the page shows: tile texts, and the table rows by data-key (cell texts).
READ_PAGE = """(() => {
  const rows = id => Object.fromEntries(
    Array.from(document.querySelectorAll(`#${id} tr[data-key]`))
      .map(tr => [tr.dataset.key, Array.from(tr.cells).map(td => td.textContent)]));
  const tiles = TILE_IDS;
  return {
    stamp: document.body.dataset.loaded || null,
    tiles: Object.fromEntries(tiles.map(id => [id, document.getElementById(id).textContent])),
    traffic: rows("traffic"), orders: rows("orders"), rejected: rows("rejected"),
    lag: rows("lag"), ready: rows("ready"),
    status: document.getElementById("status").textContent,
  };
})()""".replace("TILE_IDS", json.dumps(list(TILES)))


@dataclass(frozen=True)
class Shown:
    """The numbers the page should show, in the page's terms (texts of integers)."""

    totals: dict[str, str]
    traffic: dict[str, tuple[str, str]]  # party → (in, out)
    orders: dict[str, tuple[str, str]]  # party → (open, overdue)
    rejected: dict[str, str]  # "stage/reason" → count
    lag: dict[str, str]  # "group/topic" → lag, non-zero only


def _n(value: float) -> str:
    assert value == int(value), value
    return str(int(value))


def expected_from_metrics(text: str) -> Shown:
    """What /metrics says, summed the way the page promises to sum it."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[s.name].append((s.labels, s.value))

    def by(name: str, *labels: str) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for values, value in samples[name]:
            totals["/".join(values[label] for label in labels)] += value
        return totals

    def total(name: str) -> float:
        return sum(value for _, value in samples[name])

    records_in = by("hub_records_in_total", "party")
    records_out = by("hub_records_out_total", "party")
    open_orders = by("hub_orders_open", "party")
    overdue = by("hub_orders_overdue_open", "party")
    (dlq,) = samples["hub_dlq_depth"]
    return Shown(
        totals={
            "in": _n(total("hub_records_in_total")),
            "out": _n(total("hub_records_out_total")),
            "rejected": _n(total("hub_records_rejected_total")),
            "dlq_depth": _n(dlq[1]),
            "open_orders": _n(total("hub_orders_open")),
            "overdue_orders": _n(total("hub_orders_overdue_open")),
            "lag": _n(total("hub_consumer_lag")),
            "delivery_failures": _n(total("hub_delivery_failures_total")),
        },
        traffic={
            party: (_n(records_in.get(party, 0)), _n(records_out.get(party, 0)))
            for party in {*records_in, *records_out}
            if records_in.get(party) or records_out.get(party)
        },
        orders={
            party: (_n(count), _n(overdue.get(party, 0))) for party, count in open_orders.items()
        },
        rejected={
            key: _n(count)
            for key, count in by("hub_records_rejected_total", "stage", "reason").items()
        },
        lag={key: _n(v) for key, v in by("hub_consumer_lag", "group", "topic").items() if v},
    )


def shown_on_page(read: dict[str, Any]) -> Shown:
    traffic = {}
    for party, cells in read["traffic"].items():
        assert cells[0] == party, cells
        traffic[party] = (cells[1], cells[2])
    # a party with deliveries but nothing in or out is compared by its tiles only
    traffic = {p: io for p, io in traffic.items() if io != ("0", "0")}
    return Shown(
        totals={key: read["tiles"][tile] for tile, key in TILES.items()},
        traffic=traffic,
        orders={party: (cells[1], cells[2]) for party, cells in read["orders"].items()},
        rejected={key: cells[2] for key, cells in read["rejected"].items()},
        lag={key: cells[2] for key, cells in read["lag"].items()},
    )


@dataclass
class Hub:
    base: str
    bootstrap: str
    tokens: dict[str, str]

    def auth(self, party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"}


@pytest.fixture(scope="module")
def hub(applied_topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("ops-page")
    env = worker_env(applied_topics, data, "ops-page")
    tokens = issue_tokens(env, PARTIES)
    with running_worker(env, data / "worker.log") as base:
        yield Hub(base, applied_topics, tokens)


async def _metrics(http: aiohttp.ClientSession, hub: Hub) -> str:
    async with http.get(f"{hub.base}/metrics", headers=hub.auth("ops")) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.text()


async def _status(http: aiohttp.ClientSession, hub: Hub, path: str) -> int:
    async with http.get(hub.base + path, headers=hub.auth("ops")) as answer:
        return answer.status


async def _metrics_until(
    http: aiohttp.ClientSession, hub: Hub, ready: Callable[[Shown], bool], within: float = 60
) -> Shown:
    deadline = time.monotonic() + within
    while True:
        shown = expected_from_metrics(await _metrics(http, hub))
        if ready(shown):
            return shown
        assert time.monotonic() < deadline, f"/metrics never got there: {shown}"
        await asyncio.sleep(0.5)


async def _publish_order(http: aiohttp.ClientSession, hub: Hub, **changes: Any) -> int:
    now = datetime.now(UTC)
    body = sample(
        "order",
        source_id=f"OPS-{uuid.uuid4().hex[:12]}",
        from_party=STREET,
        source_party=STREET,
        to_parties=[DEPARTMENT],
        occurred_at=now.isoformat(),
        issued_at=now.isoformat(),
        deadline=(now + timedelta(days=1)).isoformat(),
    )
    body.update(changes)
    async with http.post(
        f"{hub.base}/v1/records/order", json=body, headers=hub.auth(STREET)
    ) as answer:
        return answer.status


async def _publish_raw_unknown_kind(hub: Hub) -> None:
    """A native record of a kind the street has no mapping for, as a connector writes it."""
    producer = AIOKafkaProducer(bootstrap_servers=hub.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            f"raw.{STREET}.v1",
            key=f"RAW-{uuid.uuid4().hex[:8]}".encode(),
            value=b'{"whatever": "no mapping reads this"}',
            headers=[("hub.native.kind", UNKNOWN_NATIVE_KIND.encode())],
        )
    finally:
        await producer.stop()


async def _compare_when_still(
    http: aiohttp.ClientSession, hub: Hub, page: Page
) -> tuple[Shown, dict[str, Any]]:
    """The page against /metrics: read /metrics, wait for the page's next refresh of its
    own, read the page, read /metrics again; when both /metrics reads agree the page's
    fetch (between them) saw the same numbers. A few tries for moving numbers."""
    for _ in range(6):
        before = expected_from_metrics(await _metrics(http, hub))
        stamp = await page.evaluate("document.body.dataset.loaded || ''")
        await page.wait_for_function(
            f"() => (document.body.dataset.loaded || '') !== {stamp!r}", timeout=15_000)
        read = await page.evaluate(READ_PAGE)
        after = expected_from_metrics(await _metrics(http, hub))
        if before == after:
            return after, read
    raise AssertionError(f"/metrics kept moving: {before} then {after}")


async def test_ops_needs_an_operator(hub: Hub) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/ops", "/ops/data"):
            async with http.get(hub.base + path) as answer:
                assert answer.status == 401, path
                assert answer.headers["WWW-Authenticate"].startswith("Basic "), path
            async with http.get(hub.base + path, headers=hub.auth(STREET)) as answer:
                assert answer.status == 403, path
        basic = base64.b64encode(f"anyone:{hub.tokens['justice']}".encode()).decode()
        async with http.get(
            hub.base + "/ops", headers={"Authorization": f"Basic {basic}"}
        ) as answer:
            assert answer.status == 200
            assert answer.content_type == "text/html"
            assert 'id="dlq-depth"' in await answer.text()


async def test_the_page_shows_what_metrics_says_and_follows_it(hub: Hub) -> None:
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as http:
        # traffic: two orders on time, one already overdue, one refused, one parked
        for _ in range(2):
            assert await _publish_order(http, hub) == 202
        overdue = {
            "issued_at": (now - timedelta(hours=30)).isoformat(),
            "deadline": (now - timedelta(hours=1)).isoformat(),
        }
        assert await _publish_order(http, hub, **overdue) == 202
        assert await _publish_order(http, hub, matter_code="URB-999") == 422
        await _publish_raw_unknown_kind(hub)

        def arrived(m: Shown) -> bool:
            street_in = int(m.traffic.get(STREET, ("0", "0"))[0])
            department_out = int(m.traffic.get(DEPARTMENT, ("0", "0"))[1])
            gateway_refusals = sum(
                int(v) for k, v in m.rejected.items() if k.startswith("gateway/")
            )
            parked = sum(int(v) for k, v in m.rejected.items() if not k.startswith("gateway/"))
            return (
                street_in >= 3
                and department_out >= 3
                and gateway_refusals >= 1
                and parked >= 1
                and int(m.totals["overdue_orders"]) >= 1
                and int(m.totals["open_orders"]) >= 3
                and int(m.totals["dlq_depth"]) >= 1  # KafkaWatch reads every 15 s
            )

        await _metrics_until(http, hub, arrived, within=90)

        async with async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=chromium_executable(), args=["--no-sandbox"])
            context = await browser.new_context(
                extra_http_headers=hub.auth("ops"), viewport={"width": 1366, "height": 768})
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"exception: {error}"))
            await page.goto(f"{hub.base}/ops")
            # (predicates as functions: the page's CSP allows no eval of a string)
            await page.wait_for_function("() => document.body.dataset.loaded")
            await page.wait_for_function(
                "() => document.getElementById('dlq-depth').textContent !== '–'"
                " && document.querySelector('#traffic tr[data-key]')"
            )
            await page.evaluate("window.notReloaded = true")

            expected, read = await _compare_when_still(http, hub, page)
            assert shown_on_page(read) == expected
            assert read["tiles"]["dlq-depth"] != "0" and read["tiles"]["overdue-orders"] != "0"
            assert {STREET, DEPARTMENT} <= set(read["traffic"])
            assert any(key.endswith("/kind.unknown") for key in read["rejected"])
            assert set(read["ready"]) == {"kafka", "partitions", "tables", "stages", "registry"}
            assert await page.evaluate(
                "document.getElementById('tile-dlq').classList.contains('bad')"
                " && document.getElementById('tile-overdue').classList.contains('bad')"
            )

            await asyncio.to_thread(ARTEFACTS.mkdir, parents=True, exist_ok=True)
            png = await page.screenshot(path=ARTEFACTS / "ops-page.png", full_page=True)
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000

            # live: one more order shows up on the page without reloading it
            seen_in = int(read["tiles"]["total-in"])
            assert await _publish_order(http, hub) == 202
            await page.wait_for_function(
                f"() => Number(document.getElementById('total-in').textContent) > {seen_in}",
                timeout=30_000,
            )
            assert await page.evaluate("window.notReloaded === true")

            expected, read = await _compare_when_still(http, hub, page)
            assert shown_on_page(read) == expected
            assert int(read["tiles"]["total-in"]) > seen_in

            # the page declares its (empty) icon: the browser logs nothing at all
            errors = [line for line in console if line.startswith(("exception:", "error:"))]
            assert not errors, console
            await browser.close()
