"""hub.topics.plan (pure) and apply_plan's refusal, with hand-made cluster states."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from hub.errors import TopicPlanError
from hub.topics import ActualTopic, Change, ClusterState, Plan, TopicSpec, apply_plan, plan

WEEK_MS = str(7 * 86_400_000)


def spec(
    name: str = "enf.order.v1",
    *,
    partitions: int = 6,
    replication_factor: int = 3,
    min_insync: int = 2,
    retention_ms: str = WEEK_MS,
    source: str = "canonical.yaml",
) -> TopicSpec:
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=replication_factor,
        configs={
            "cleanup.policy": "delete",
            "retention.ms": retention_ms,
            "min.insync.replicas": str(min_insync),
        },
        value_subject=None,
        source=source,
    )


def actual_of(
    declared: TopicSpec,
    *,
    partitions: int | None = None,
    replication_factor: int | None = None,
    **config_overrides: str,
) -> ActualTopic:
    """The topic as a cluster would report it after applying `declared` exactly."""
    configs = {**declared.configs, "segment.bytes": "1073741824"}  # plus an unmanaged config
    configs.update({k.replace("_", "."): v for k, v in config_overrides.items()})
    return ActualTopic(
        name=declared.name,
        partitions=declared.partitions if partitions is None else partitions,
        replication_factor=(
            declared.replication_factor if replication_factor is None else replication_factor
        ),
        configs=configs,
    )


def changes_for(result: Plan, topic: str) -> list[Change]:
    return [change for change in result.changes if change.topic == topic]


# --- create ------------------------------------------------------------------------------


def test_missing_topic_is_created_with_capped_replication_locally() -> None:
    declared = spec()

    result = plan([declared], ClusterState(brokers=1, topics={}), "local")

    assert result.refused == []
    assert len(result.changes) == 1
    change = result.changes[0]
    assert change.topic == "enf.order.v1"
    assert change.action == "create"
    assert change.partitions == 6
    assert change.replication_factor == 1
    assert change.configs == {
        "cleanup.policy": "delete",
        "retention.ms": WEEK_MS,
        "min.insync.replicas": "1",
    }
    assert "replication factor 1" in change.detail
    assert str(change).startswith("+ enf.order.v1: ")
    assert len(result.warnings) == 1
    assert "capped" in result.warnings[0]
    assert "1 broker" in result.warnings[0]
    assert result.in_sync is False
    # The declaration itself is left alone.
    assert declared.configs["min.insync.replicas"] == "2"


def test_missing_topic_on_a_big_enough_cluster_keeps_declared_values() -> None:
    result = plan([spec()], ClusterState(brokers=3, topics={}), "production")

    assert result.warnings == []
    assert result.refused == []
    [change] = result.changes
    assert change.action == "create"
    assert change.replication_factor == 3
    assert change.configs["min.insync.replicas"] == "2"


def test_capping_warning_counts_every_capped_topic_once() -> None:
    specs = [spec("a.v1"), spec("b.v1"), spec("c.v1", replication_factor=1, min_insync=1)]

    result = plan(specs, ClusterState(brokers=1, topics={}), "local")

    assert [c.action for c in result.changes] == ["create"] * 3
    assert len(result.warnings) == 1
    assert "2 topic(s)" in result.warnings[0]


def test_production_with_too_few_brokers_is_refused() -> None:
    result = plan([spec(source="canonical.yaml")], ClusterState(brokers=1, topics={}), "production")

    assert result.changes == []
    assert len(result.refused) == 1
    refused = result.refused[0]
    assert refused.startswith("enf.order.v1:")
    assert "replication factor 3" in refused
    assert "cluster has 1" in refused
    assert "canonical.yaml" in refused
    assert result.in_sync is False


# --- existing topics ---------------------------------------------------------------------


def test_in_sync_state_has_no_changes() -> None:
    specs = [spec("a.v1"), spec("b.v1", partitions=1, retention_ms="-1")]
    state = ClusterState(brokers=3, topics={s.name: actual_of(s) for s in specs})

    result = plan(specs, state, "production")

    assert result.in_sync is True
    assert result.changes == []
    assert result.refused == []
    assert result.warnings == []


def test_in_sync_on_a_single_local_broker() -> None:
    declared = spec()
    state = ClusterState(
        brokers=1,
        topics={declared.name: actual_of(declared, replication_factor=1, min_insync_replicas="1")},
    )

    result = plan([declared], state, "local")

    assert result.in_sync is True
    assert result.changes == []
    assert len(result.warnings) == 1
    assert "capped" in result.warnings[0]


def test_more_declared_partitions_adds_partitions() -> None:
    declared = spec(partitions=12)
    state = ClusterState(brokers=3, topics={declared.name: actual_of(declared, partitions=6)})

    result = plan([declared], state, "production")

    assert result.refused == []
    [change] = result.changes
    assert change.action == "add-partitions"
    assert change.topic == "enf.order.v1"
    assert change.partitions == 12
    assert "6 -> 12" in change.detail
    assert str(change).startswith("~ enf.order.v1: ")
    assert result.in_sync is False


def test_fewer_declared_partitions_is_refused_and_changes_nothing() -> None:
    shrinking = spec("enf.order.v1", partitions=3)
    growing = spec("enf.clue.v1", partitions=6)
    state = ClusterState(
        brokers=3,
        topics={
            shrinking.name: actual_of(shrinking, partitions=6),
            growing.name: actual_of(growing, partitions=3),
        },
    )

    result = plan([shrinking, growing], state, "production")

    assert len(result.refused) == 1
    refused = result.refused[0]
    assert refused.startswith("enf.order.v1:")
    assert "cannot remove partitions" in refused
    assert "has 6 partitions" in refused
    assert "declares 3" in refused
    assert changes_for(result, "enf.order.v1") == []
    assert [c.action for c in changes_for(result, "enf.clue.v1")] == ["add-partitions"]
    assert result.in_sync is False


def test_a_per_party_topic_with_more_partitions_keeps_them_with_one_warning() -> None:
    kept = [
        spec(f"raw.street-{n}.v1", partitions=1, source="parties.yaml").model_copy(
            update={"keep_more_partitions": True}
        )
        for n in range(7)
    ]
    state = ClusterState(
        brokers=3, topics={s.name: actual_of(s, partitions=3) for s in kept}
    )

    result = plan(kept, state, "production")

    assert result.refused == []
    assert result.changes == []
    assert result.in_sync
    [warning] = result.warnings
    assert warning.startswith("7 topic(s) have more partitions than declared and keep them")
    assert "raw.street-0.v1 (3)" in warning
    assert warning.endswith("and 2 more")


def test_differing_retention_sets_only_that_config() -> None:
    declared = spec(retention_ms=str(30 * 86_400_000))
    state = ClusterState(
        brokers=3, topics={declared.name: actual_of(declared, retention_ms=WEEK_MS)}
    )

    result = plan([declared], state, "production")

    assert result.refused == []
    [change] = result.changes
    assert change.action == "set-config"
    assert change.configs == {"retention.ms": str(30 * 86_400_000)}
    assert f"retention.ms {WEEK_MS} -> {30 * 86_400_000}" in change.detail
    assert change.partitions == 0


def test_config_missing_on_the_cluster_is_set() -> None:
    declared = spec()
    present = actual_of(declared)
    configs = {k: v for k, v in present.configs.items() if k != "cleanup.policy"}
    state = ClusterState(
        brokers=3,
        topics={declared.name: ActualTopic(declared.name, 6, 3, configs)},
    )

    result = plan([declared], state, "production")

    [change] = result.changes
    assert change.configs == {"cleanup.policy": "delete"}
    assert "(unset)" in change.detail


def test_partitions_and_configs_can_change_together() -> None:
    declared = spec(partitions=9, retention_ms="-1")
    state = ClusterState(
        brokers=3, topics={declared.name: actual_of(declared, partitions=6, retention_ms=WEEK_MS)}
    )

    result = plan([declared], state, "production")

    assert [c.action for c in result.changes] == ["add-partitions", "set-config"]


def test_different_actual_replication_factor_is_only_a_warning() -> None:
    declared = spec()
    state = ClusterState(
        brokers=5, topics={declared.name: actual_of(declared, replication_factor=2)}
    )

    result = plan([declared], state, "production")

    assert result.changes == []
    assert result.refused == []
    assert result.in_sync is True
    [warning] = result.warnings
    assert warning.startswith("enf.order.v1:")
    assert "replication factor is 2, declared 3" in warning


def test_plan_reads_only_declared_topics() -> None:
    declared = spec()
    stranger = ActualTopic("someone.else.v1", partitions=50, replication_factor=1, configs={})
    state = ClusterState(
        brokers=3, topics={declared.name: actual_of(declared), stranger.name: stranger}
    )

    assert plan([declared], state, "production").in_sync is True


# --- apply_plan --------------------------------------------------------------------------


class UntouchableAdmin:
    """An admin client stand-in that fails the test when anything is used."""

    def __getattr__(self, name: str) -> NoReturn:
        pytest.fail(f"apply_plan touched the admin client ({name}) for a refused plan")


class RecordingAdmin:
    """An admin client stand-in that records the calls apply_plan makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def create_topics(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("create_topics", args, kwargs))

    def create_partitions(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("create_partitions", args, kwargs))

    def alter_configs(self, *args: Any, **kwargs: Any) -> dict[str, dict[str, str]]:
        self.calls.append(("alter_configs", args, kwargs))
        return {"topic": {resource.name: "OK" for resource in args[0]}}


def test_apply_refused_plan_raises_before_touching_the_admin() -> None:
    shrinking = spec(partitions=3)
    todo = plan(
        [shrinking, spec("enf.clue.v1")],
        ClusterState(brokers=3, topics={shrinking.name: actual_of(shrinking, partitions=6)}),
        "production",
    )
    assert todo.changes, "the plan also holds a change that must not be made"
    assert todo.refused

    with pytest.raises(TopicPlanError) as caught:
        apply_plan(UntouchableAdmin(), todo)  # type: ignore[arg-type]

    assert "nothing was changed" in caught.value.message
    assert "enf.order.v1" in caught.value.message
    assert "cannot remove partitions" in caught.value.message
    assert caught.value.retriable is False


def test_apply_empty_plan_touches_nothing() -> None:
    apply_plan(UntouchableAdmin(), Plan())  # type: ignore[arg-type]


def test_apply_carries_out_every_change() -> None:
    created = spec("new.v1")
    grown = spec("grow.v1", partitions=12)
    altered = spec("alter.v1", retention_ms="-1")
    state = ClusterState(
        brokers=3,
        topics={
            grown.name: actual_of(grown, partitions=6),
            altered.name: actual_of(altered, retention_ms=WEEK_MS),
        },
    )
    admin = RecordingAdmin()

    apply_plan(admin, plan([created, grown, altered], state, "production"))  # type: ignore[arg-type]

    assert [name for name, _, _ in admin.calls] == [
        "create_topics",
        "create_partitions",
        "alter_configs",
    ]
    _, create_args, _ = admin.calls[0]
    assert create_args[0] == {
        "new.v1": {
            "num_partitions": 6,
            "replication_factor": 3,
            "configs": created.configs,
        }
    }
    _, grow_args, _ = admin.calls[1]
    assert grow_args[0] == {"grow.v1": 12}
    _, alter_args, alter_kwargs = admin.calls[2]
    [resource] = alter_args[0]
    assert resource.name == "alter.v1"
    assert resource.configs == {"retention.ms": "-1"}
    assert alter_kwargs.get("incremental") is True


def test_apply_reports_config_changes_the_broker_refused() -> None:
    altered = spec(retention_ms="-1")
    todo = plan(
        [altered],
        ClusterState(brokers=3, topics={altered.name: actual_of(altered, retention_ms="1")}),
        "production",
    )

    class RefusingAdmin(RecordingAdmin):
        def alter_configs(self, *args: Any, **kwargs: Any) -> dict[str, dict[str, str]]:
            return {"topic": {altered.name: "PolicyViolationError: not allowed"}}

    with pytest.raises(TopicPlanError, match="PolicyViolationError"):
        apply_plan(RefusingAdmin(), todo)  # type: ignore[arg-type]
