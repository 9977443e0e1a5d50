"""The short profile of the fault suite, on its own broker: what `make faults` runs in
full, small enough for `make test`. Each case must lose nothing it accepted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Brokers
from tests.faults.suite import SINGLE_PORT, cases, run_case

pytestmark = pytest.mark.kafka

SHORT = {case.name: case for case in cases("short")}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Brokers, Path]]:
    work = tmp_path_factory.mktemp("faults")
    brokers = Brokers(1, SINGLE_PORT, work / "broker")
    brokers.reset()
    brokers.start()
    try:
        yield brokers, work
    finally:
        brokers.stop()


@pytest.mark.parametrize("name", ["kill", "poison"])
def test_the_case_loses_nothing_it_accepted(name: str, broker: tuple[Brokers, Path]) -> None:
    """kill: SIGKILL before every partition has a commit (3 %), then at 45 % and 70 %,
    restarted within the session timeout (no rebalance); poison: every bad record parked
    with its reason, good ones flow, replayed ones delivered after the fix. (Workers
    joining and leaving mid-stream, stalls, broker failures, an unwritable `_schemas` and
    the API contract run in `make faults`; tests/integration/test_failover.py kills one of
    two workers here too.)"""
    brokers, work = broker
    result = run_case(SHORT[name], work, brokers)
    assert result.accepted > 0, result.notes
    assert result.lost == 0, result.notes
    assert result.order_violations == 0, result.notes
    assert result.wrong_views == 0, result.notes
    assert result.ok, (result.as_dict(), result.notes)
