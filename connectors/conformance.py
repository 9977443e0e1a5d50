"""The conformance suite every connector transport passes (STYLE §7), as a function a
transport's own tests call (the pattern of Redpanda Connect's ``StreamTests``).

A transport's tests give a `Driver`, a pytest fixture that starts and stops the
transport's connector on a real broker, feeds it items and reads what came out
downstream, and call `conformance_test` once::

    @pytest_asyncio.fixture
    async def my_kind(...) -> AsyncIterator[MyDriver]: ...

    test_my_kind_conforms = conformance_test("my_kind")

pytest then runs every check of `CHECKS` on it: open and close, a batch, a long
sequence in order, restart-and-resume, a poison record to the DLQ and the rest going
on, and later records about the same thing staying behind the first. A new transport
is done when it passes them (tests/integration/test_connector_conformance.py runs the
shipped ones: webhook, http-poll, file-drop, kafka).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast


async def eventually(
    check: Callable[[], Any], what: str, within: float = 20.0, every: float = 0.1
) -> Any:
    """The first truthy value of check() (sync or async) within `within` seconds, else fail."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)


class Driver(ABC):
    """Drives one connector transport and reads what came out downstream."""

    kind = ""  # the transport's kind, as its status names it
    unit = 1  # records a restart may deliver again (a page, a file, a batch)
    running_state = "running"  # what status() says once it runs

    @abstractmethod
    async def start(self) -> Any:
        """Start the connector (a new runner and a new state store: a restart); return
        something with its live ``status`` dict."""

    @abstractmethod
    async def stop(self) -> float:
        """Stop the connector; the seconds it took."""

    @abstractmethod
    async def stored_status(self) -> dict[str, Any]:
        """The status the stopped connector left in the connector state store."""

    @abstractmethod
    def make(self, count: int, **changes: Any) -> list[Any]:
        """count new items (native records or canonical orders), in sequence."""

    @abstractmethod
    def id_of(self, item: Any) -> str:
        """The record id the item has downstream."""

    @abstractmethod
    async def send(self, items: list[Any]) -> None:
        """Make the items available to the connector, in order."""

    @abstractmethod
    async def arrived(self, items: list[Any], within: float = 30) -> list[str]:
        """Once every item arrived downstream: the ids that arrived, in arrival order,
        repeats included (only ids of items)."""

    @abstractmethod
    async def in_order(self, items: list[Any]) -> None:
        """Assert the items went through in the order they were sent."""

    @abstractmethod
    async def poison(self) -> Any:
        """An item that cannot go through (it must end in the DLQ)."""

    @abstractmethod
    async def progressed(self, items: list[Any], count: int) -> bool:
        """Whether at least count of items went through the connector so far."""

    @abstractmethod
    async def parked(self, item: Any) -> Any:
        """The DLQ record item ended in (it could not go through); assert its headers."""

    @abstractmethod
    def versions(self, count: int) -> tuple[list[Any], list[Any]]:
        """count records and, for each, a later record about the same thing (same key)."""

    @abstractmethod
    async def versions_in_order(self, first: list[Any], second: list[Any]) -> None:
        """The later records were sent after the first ones: downstream (and on the
        way) each comes after its first one."""

    async def slow_down(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Make the party slow, so a stop lands mid-way (when the transport can)."""

    async def speed_up(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Undo `slow_down`."""

    async def before_restart(self) -> None:  # noqa: B027 - an optional hook
        """Note where the party stands before the connector starts again."""

    async def resumed(self) -> None:  # noqa: B027 - an optional hook
        """Assert the restarted connector went on from its stored position (a poll's
        cursor), not from the beginning."""


async def opens_and_closes(driver: Driver) -> None:
    runner = await driver.start()
    state = await eventually(
        lambda: runner.status.get("state") == driver.running_state and runner.status["state"],
        "the connector to run",
        within=10,
    )
    assert state == driver.running_state
    took = await driver.stop()
    assert took < 5, f"stop took {took:.1f} s"
    status = await driver.stored_status()
    assert status["state"] == "stopped"
    assert status["type"] == driver.kind


async def moves_a_batch(driver: Driver) -> None:
    items = driver.make(10)
    await driver.start()
    await driver.send(items)
    arrived = await driver.arrived(items)
    assert Counter(arrived) == Counter({driver.id_of(item): 1 for item in items})


async def keeps_a_long_sequence_in_order(driver: Driver) -> None:
    items = driver.make(500)
    await driver.start()
    await driver.send(items)
    arrived = await driver.arrived(items, within=60)
    assert set(arrived) == {driver.id_of(item) for item in items}
    assert len(arrived) == 500, "some records came twice"
    await driver.in_order(items)


async def restarts_and_resumes(driver: Driver) -> None:
    first, second = driver.make(150), driver.make(150)
    await driver.start()
    await driver.slow_down()  # so the stop lands mid-way
    await driver.send(first)
    await eventually(lambda: driver.progressed(first, 30), "part of the records through", within=30)
    took = await driver.stop()
    assert took < 5, f"stop took {took:.1f} s"
    await driver.send(second)  # new records while the connector is down
    await driver.speed_up()
    await driver.before_restart()
    await driver.start()
    arrived = await driver.arrived(first + second, within=60)
    counts = Counter(arrived)
    assert set(counts) == {driver.id_of(item) for item in first + second}  # nothing lost
    again = [i for i, n in counts.items() if n > 1]
    assert len(again) <= driver.unit, f"{len(again)} records came again after the restart"
    await driver.resumed()


async def parks_a_poison_record_and_goes_on(driver: Driver) -> None:
    before, after = driver.make(3), driver.make(3)
    poison = await driver.poison()
    await driver.start()
    await driver.send([*before, poison, *after])
    await driver.parked(poison)
    arrived = await driver.arrived(before + after)
    assert set(arrived) == {driver.id_of(item) for item in before + after}


async def keeps_later_records_behind_the_first(driver: Driver) -> None:
    """Order per key (docs/design.md §8): a corrected native record after its first
    version, an order's event after the order."""
    first, second = driver.versions(20)
    await driver.start()
    await driver.send(first)
    await driver.send(second)
    await driver.versions_in_order(first, second)


CHECKS: tuple[Callable[[Driver], Awaitable[None]], ...] = (
    opens_and_closes,
    moves_a_batch,
    keeps_a_long_sequence_in_order,
    restarts_and_resumes,
    parks_a_poison_record_and_goes_on,
    keeps_later_records_behind_the_first,
)


def conformance_test(fixture: str) -> Callable[..., Awaitable[None]]:
    """A pytest test, one case per check of `CHECKS`, run on the `Driver` the fixture
    named fixture gives; assign it to a ``test_…`` name in the transport's test module
    (its asyncio marks apply)."""
    import pytest  # only the tests that call this need pytest

    @pytest.mark.usefixtures(fixture)  # set up before the test: getfixturevalue reads it
    @pytest.mark.parametrize("check", CHECKS, ids=[check.__name__ for check in CHECKS])
    async def test(check: Callable[[Driver], Awaitable[None]], request: Any) -> None:
        driver = request.getfixturevalue(fixture)
        assert isinstance(driver, Driver), f"{fixture} gives {type(driver).__name__}, not a Driver"
        await check(driver)

    test.__doc__ = f"The {fixture} transport passes the connector conformance suite."
    return cast("Callable[..., Awaitable[None]]", test)
