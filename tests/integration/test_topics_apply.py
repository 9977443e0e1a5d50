"""`hub topics apply|diff` against the real broker: idempotent, configs land, no shrinking."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from hub.errors import TopicPlanError
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import admin_client, apply_plan, load_topics, plan, read_cluster
from tests.conftest import ROOT

PARTIES = """
parties:
  - {id: street-a, name: 甲街道, kind: street}
  - {id: dept-b, name: 乙局, kind: department}
  - {id: ops, name: 运维, kind: ops, inbox: false}
"""


def _declare(folder: Path, prefix: str, *, partitions: int, retention: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "main.yaml").write_text(
        f"""
topics:
  - name: {prefix}.order.v1
    doc: 派单 orders
    partitions: {partitions}
    retention: {retention}
    copartition: order
  - name: {prefix}.order-event.v1
    doc: 派单事件 order events
    partitions: {partitions}
    retention: {retention}
    copartition: order
  - name: {prefix}.matter.v1
    doc: 执法事项 matters
    partitions: 1
    cleanup_policy: compact
    retention: forever
  - name: {prefix}.out.{{party}}.v1
    doc: 收件箱 inbox
    for_parties: inbox
    partitions: 2
""",
        encoding="utf-8",
    )


def _settings(bootstrap: str, tmp_path: Path) -> HubSettings:
    parties = tmp_path / "parties.yaml"
    parties.write_text(PARTIES, encoding="utf-8")
    return HubSettings(
        kafka_bootstrap=bootstrap, topics_dir=tmp_path / "topics", parties_file=parties
    )


def _apply(settings: HubSettings) -> None:
    specs = load_topics(settings.topics_dir, load_parties(settings.parties_file))
    with admin_client(settings) as admin:
        apply_plan(admin, plan(specs, read_cluster(admin, [s.name for s in specs]), "local"))


def _diff(settings: HubSettings):  # type: ignore[no-untyped-def]
    specs = load_topics(settings.topics_dir, load_parties(settings.parties_file))
    with admin_client(settings) as admin:
        return plan(specs, read_cluster(admin, [s.name for s in specs]), "local")


def _retention(bootstrap: str, topic: str) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        answer = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs=["retention.ms"])],
            config_filter="all",
        )
    finally:
        admin.close()
    return str(answer["topic"][topic]["retention.ms"]["value"])


def _partitions(bootstrap: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    return len(described["partitions"])


def test_apply_creates_then_changes_nothing(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("t")
    settings = _settings(kafka_bootstrap, tmp_path)
    _declare(settings.topics_dir, prefix, partitions=3, retention="1d")

    first = _diff(settings)
    assert sorted(c.topic for c in first.changes if c.action == "create") == sorted(
        [
            f"{prefix}.order.v1",
            f"{prefix}.order-event.v1",
            f"{prefix}.matter.v1",
            f"{prefix}.out.street-a.v1",
            f"{prefix}.out.dept-b.v1",
        ]
    )
    _apply(settings)

    second = _diff(settings)
    assert second.in_sync, [str(c) for c in second.changes]
    assert second.changes == []
    assert _partitions(kafka_bootstrap, f"{prefix}.order.v1") == 3
    assert _retention(kafka_bootstrap, f"{prefix}.order.v1") == str(86_400_000)


def test_changed_retention_takes_effect(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("t")
    settings = _settings(kafka_bootstrap, tmp_path)
    _declare(settings.topics_dir, prefix, partitions=2, retention="1d")
    _apply(settings)

    _declare(settings.topics_dir, prefix, partitions=2, retention="36h")
    todo = _diff(settings)
    altered = {c.topic: c.configs for c in todo.changes}
    assert altered[f"{prefix}.order.v1"] == {"retention.ms": str(36 * 3_600_000)}
    assert all(c.action == "set-config" for c in todo.changes)
    _apply(settings)

    assert _retention(kafka_bootstrap, f"{prefix}.order.v1") == str(36 * 3_600_000)
    assert _retention(kafka_bootstrap, f"{prefix}.order-event.v1") == str(36 * 3_600_000)
    assert _diff(settings).in_sync


def test_partition_decrease_is_refused_and_nothing_changes(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("t")
    settings = _settings(kafka_bootstrap, tmp_path)
    _declare(settings.topics_dir, prefix, partitions=4, retention="1d")
    _apply(settings)

    _declare(settings.topics_dir, prefix, partitions=2, retention="2d")
    with pytest.raises(TopicPlanError, match="cannot remove partitions"):
        _apply(settings)
    assert _partitions(kafka_bootstrap, f"{prefix}.order.v1") == 4
    assert _retention(kafka_bootstrap, f"{prefix}.order.v1") == str(86_400_000)


def test_partition_increase_is_applied(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("t")
    settings = _settings(kafka_bootstrap, tmp_path)
    _declare(settings.topics_dir, prefix, partitions=2, retention="1d")
    _apply(settings)
    _declare(settings.topics_dir, prefix, partitions=5, retention="1d")
    _apply(settings)
    assert _partitions(kafka_bootstrap, f"{prefix}.order.v1") == 5
    assert _partitions(kafka_bootstrap, f"{prefix}.order-event.v1") == 5
    assert _diff(settings).in_sync


def _hub(*args: str, bootstrap: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hub"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_shipped_declarations_apply_idempotently_through_the_cli(kafka_bootstrap: str) -> None:
    first = _hub("topics", "apply", bootstrap=kafka_bootstrap)
    assert first.returncode == 0, first.stderr
    second = _hub("topics", "apply", bootstrap=kafka_bootstrap)
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stdout
    assert "+ " not in second.stdout and "~ " not in second.stdout
    diff = _hub("topics", "diff", bootstrap=kafka_bootstrap)
    assert diff.returncode == 0
    assert "in sync" in diff.stdout
    assert "Traceback" not in first.stderr + second.stderr + diff.stderr
