"""How `make test` deals the real-broker modules into shards (tests/shards.py)."""

from __future__ import annotations

import pytest

from tests.shards import SECONDS, UNKNOWN, parse, plan


def test_every_module_lands_in_exactly_one_shard_and_the_load_is_even() -> None:
    modules = list(SECONDS)
    where = plan(modules, (), 2)
    assert set(where) == set(modules)
    loads = [sum(SECONDS[m] for m in modules if where[m] == shard) for shard in (1, 2)]
    assert abs(loads[0] - loads[1]) <= max(SECONDS.values()) / 2, loads


def test_the_modules_of_the_secured_cluster_stay_together() -> None:
    together = ["test_dispatch.py", "test_demo.py", "test_shared.py", "test_kafka_acls.py"]
    where = plan(list(SECONDS), together, 3)
    assert len({where[m] for m in together}) == 1


def test_the_same_modules_are_dealt_the_same_way_every_time() -> None:
    modules = [*SECONDS, "test_new_feature.py"]
    assert plan(modules, (), 2) == plan(reversed(modules), (), 2)


def test_a_module_not_measured_yet_counts_as_a_middling_one() -> None:
    where = plan(["test_a.py", "test_b.py", "test_c.py"], (), 2)
    assert sorted(where.values()) == [1, 1, 2]  # three equal units: two and one
    assert 0 < UNKNOWN < max(SECONDS.values())


def test_one_shard_keeps_everything() -> None:
    assert set(plan(list(SECONDS), (), 1).values()) == {1}


@pytest.mark.parametrize("text", ["2", "0/2", "3/2", "a/b", "1/"])
def test_a_shard_that_is_not_i_of_n_is_explained(text: str) -> None:
    with pytest.raises(ValueError, match="I"):
        parse(text)
    assert parse("2/3") == (2, 3)
