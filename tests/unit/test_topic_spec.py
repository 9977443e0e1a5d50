"""hub.topics spec: the shipped declarations, retention parsing, and declaration rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError, TopicSpecError
from hub.reference import Registry, load_parties
from hub.settings import load_settings
from hub.topics import TopicSpec, load_topics, parse_retention

ROOT = Path(__file__).resolve().parents[2]
TOPICS_DIR = ROOT / "topics"
PARTIES_FILE = ROOT / "hub" / "reference" / "parties.yaml"

DAY_MS = 86_400_000
CANONICAL = ["enf.clue.v1", "enf.case.v1", "enf.order.v1", "enf.order-event.v1",
             "enf.execution.v1"]
SHARED = ["share.entity.v1", "share.permit.v1", "share.officer.v1", "share.matter.v1"]
OTHERS = ["pub.penalty.v1", "sup.case.v1", "hub.dlq.v1", "hub.audit.v1", "_schemas",
          "hub.connector-state.v1", "data.subscription.v1", "data.change.v1"]


@pytest.fixture(scope="module")
def parties() -> Registry:
    return load_parties(PARTIES_FILE)


@pytest.fixture(scope="module")
def specs(parties: Registry) -> dict[str, TopicSpec]:
    loaded = load_topics(TOPICS_DIR, parties)
    by_name = {spec.name: spec for spec in loaded}
    assert len(by_name) == len(loaded), "topic names must be unique"
    return by_name


# --- the shipped topics/ folder ----------------------------------------------------------


def test_settings_point_at_the_shipped_folder() -> None:
    assert load_settings().topics_dir.resolve() == TOPICS_DIR


def test_shipped_folder_expands_to_exactly_the_design_topics(
    specs: dict[str, TopicSpec], parties: Registry
) -> None:
    raw = {f"raw.{p.id}.v1" for p in parties if p.inbox}
    out = {f"out.{p.id}.v1" for p in parties if p.inbox}

    assert len(raw) == 28
    assert len(out) == 28
    assert set(specs) == raw | out | set(CANONICAL) | set(SHARED) | set(OTHERS)
    assert len(specs) == 28 + 28 + 17


def test_every_exchanging_party_has_raw_and_out(specs: dict[str, TopicSpec]) -> None:
    assert "raw.street-jiyuqiao.v1" in specs
    assert "out.street-nanhu.v1" in specs
    assert "raw.court.v1" in specs
    assert "out.court.v1" in specs
    for internal in ("ops", "hub"):  # operators and the hub itself exchange no records
        assert f"raw.{internal}.v1" not in specs
        assert f"out.{internal}.v1" not in specs
    assert not any("{party}" in name for name in specs)


def test_per_party_topics_come_from_parties_yaml(specs: dict[str, TopicSpec]) -> None:
    raw = specs["raw.dept-water.v1"]
    assert raw.source == "parties.yaml"
    assert raw.partitions == 1  # a few records a minute (docs/capacity.md)
    assert raw.keep_more_partitions  # a district made with 3 keeps them
    assert raw.configs["retention.ms"] == str(30 * DAY_MS)
    assert raw.value_subject is None


def test_orders_and_events_are_co_partitioned(specs: dict[str, TopicSpec]) -> None:
    assert specs["enf.order.v1"].partitions == specs["enf.order-event.v1"].partitions


def test_shared_and_schemas_are_compacted_and_kept_forever(specs: dict[str, TopicSpec]) -> None:
    for name in [*SHARED, "_schemas", "hub.connector-state.v1"]:
        assert specs[name].configs["cleanup.policy"] == "compact", name
        assert specs[name].configs["retention.ms"] == "-1", name
    for name in [*CANONICAL, "pub.penalty.v1", "hub.dlq.v1", "hub.audit.v1"]:
        assert specs[name].configs["cleanup.policy"] == "delete", name
    assert specs["_schemas"].partitions == 1


def test_defaults_and_extra_configs(specs: dict[str, TopicSpec]) -> None:
    entity = specs["share.entity.v1"]
    assert entity.replication_factor == 3
    assert entity.min_insync_replicas == 2
    assert entity.configs["min.insync.replicas"] == "2"
    assert entity.configs["min.compaction.lag.ms"] == "60000"
    assert entity.value_subject == "share.entity.v1-value"
    assert specs["hub.audit.v1"].configs["retention.ms"] == str(365 * DAY_MS)


def test_canonical_topics_have_value_subjects(specs: dict[str, TopicSpec]) -> None:
    for name in CANONICAL:
        assert specs[name].value_subject == f"{name}-value"
        assert specs[name].source == "canonical.yaml"


# --- parse_retention ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", 7 * DAY_MS),
        ("12h", 12 * 3_600_000),
        ("30m", 30 * 60_000),
        ("45s", 45_000),
        ("500ms", 500),
        ("1ms", 1),
        (" 30D ", 30 * DAY_MS),
        ("forever", -1),
        ("infinite", -1),
        ("-1", -1),
        (-1, -1),
        (86_400_000, 86_400_000),
        (1, 1),
    ],
)
def test_parse_retention(value: str | int, expected: int) -> None:
    assert parse_retention(value) == expected


@pytest.mark.parametrize(
    "value", ["7 weeks", "7w", "7", "d", "0d", "0ms", "1.5h", "", "-7d", 0, -2, True, False]
)
def test_parse_retention_rejects(value: str | int) -> None:
    with pytest.raises(ValueError, match="retention"):
        parse_retention(value)


# --- malformed declarations --------------------------------------------------------------

GOOD = "  - {name: a.v1, doc: first, partitions: 3}\n"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def fails(folder: Path, parties: Registry) -> str:
    with pytest.raises(TopicSpecError) as caught:
        load_topics(folder, parties)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def bad_entry(tmp_path: Path, parties: Registry, entry: str) -> str:
    """Second entry of one file is `entry`; the error must name the file and topics[1]."""
    path = write(tmp_path, "bad.yaml", "topics:\n" + GOOD + f"  - {entry}\n")
    message = fails(tmp_path, parties)
    assert str(path) in message
    return message


def test_small_valid_folder(tmp_path: Path, parties: Registry) -> None:
    write(
        tmp_path,
        "a.yaml",
        "topics:\n" + GOOD + "  - {name: 'x.{party}.v1', doc: d, partitions: 2, for_parties: inbox,"
        " replication_factor: 1, min_insync_replicas: 1, retention: 12h,"
        " configs: {segment.ms: 3600000, preallocate: true}}\n",
    )
    write(tmp_path, "notes.txt", "not a declaration")

    loaded = {spec.name: spec for spec in load_topics(tmp_path, parties)}

    assert len(loaded) == 1 + 28
    assert loaded["a.v1"].configs == {
        "cleanup.policy": "delete",
        "retention.ms": str(7 * DAY_MS),
        "min.insync.replicas": "2",
    }
    assert loaded["x.court.v1"].configs == {
        "cleanup.policy": "delete",
        "retention.ms": str(12 * 3_600_000),
        "min.insync.replicas": "1",
        "segment.ms": "3600000",
        "preallocate": "true",
    }
    assert loaded["x.court.v1"].replication_factor == 1
    assert "x.ops.v1" not in loaded


def test_zero_partitions(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{name: b.v1, doc: d, partitions: 0}")

    assert "topics[1] (b.v1).partitions" in message
    assert "greater than or equal to 1" in message


def test_an_unknown_key_in_a_topics_file_is_refused(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{name: b.v1, doc: d, partitions: 1, partition: 2}")

    assert "topics[1] (b.v1).partition" in message
    assert "Extra inputs are not permitted" in message


def test_template_without_for_parties(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{name: 'b.{party}.v1', doc: d, partitions: 1}")

    assert "topics[1] (b.{party}.v1)" in message
    assert "needs for_parties" in message


def test_for_parties_without_party_placeholder(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{name: b.v1, doc: d, partitions: 1, for_parties: all}")

    assert "topics[1] (b.v1)" in message
    assert "for_parties is only for names that contain {party}" in message


def test_unknown_for_parties_value(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(
        tmp_path, parties, "{name: 'b.{party}.v1', doc: d, partitions: 1, for_parties: streets}"
    )

    assert "topics[1] (b.{party}.v1).for_parties" in message


def test_min_insync_above_replication_factor(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(
        tmp_path,
        parties,
        "{name: b.v1, doc: d, partitions: 1, replication_factor: 2, min_insync_replicas: 3}",
    )

    assert "topics[1] (b.v1)" in message
    assert "min_insync_replicas cannot exceed replication_factor" in message


@pytest.mark.parametrize("key", ["retention.ms", "cleanup.policy", "min.insync.replicas"])
def test_configs_may_not_set_own_fields(tmp_path: Path, parties: Registry, key: str) -> None:
    message = bad_entry(
        tmp_path, parties, f"{{name: b.v1, doc: d, partitions: 1, configs: {{{key}: '1'}}}}"
    )

    assert "topics[1] (b.v1).configs" in message
    assert f"['{key}']" in message
    assert "own fields" in message


def test_bad_retention(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(
        tmp_path, parties, "{name: b.v1, doc: d, partitions: 1, retention: 7 weeks}"
    )

    assert "topics[1] (b.v1).retention" in message
    assert "'7 weeks'" in message


@pytest.mark.parametrize("name", ["b v1", "b/v1", "主题.v1"])
def test_bad_topic_name(tmp_path: Path, parties: Registry, name: str) -> None:
    message = bad_entry(tmp_path, parties, f"{{name: '{name}', doc: d, partitions: 1}}")

    assert "topics[1]" in message
    assert "name may hold only" in message


def test_topic_name_with_trailing_newline_is_rejected(tmp_path: Path, parties: Registry) -> None:
    # `name: |` (a YAML block scalar) keeps the newline; Kafka topic names cannot hold it.
    path = write(
        tmp_path,
        "bad.yaml",
        "topics:\n" + GOOD + "  - name: |\n      b.v1\n    doc: d\n    partitions: 1\n",
    )

    message = fails(tmp_path, parties)

    assert str(path) in message
    assert "topics[1]" in message
    assert "name may hold only" in message


def test_entry_without_name_still_names_its_index(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{doc: d, partitions: 1}")

    assert "topics.1.name" in message
    assert "Field required" in message


def test_missing_doc(tmp_path: Path, parties: Registry) -> None:
    message = bad_entry(tmp_path, parties, "{name: b.v1, partitions: 1}")

    assert "topics[1] (b.v1).doc" in message


def test_a_topics_file_that_is_not_yaml_is_refused(tmp_path: Path, parties: Registry) -> None:
    path = write(tmp_path, "bad.yaml", "topics: [\n")

    message = fails(tmp_path, parties)

    assert str(path) in message
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["", "- {name: a.v1, doc: d, partitions: 1}\n"])
def test_top_level_not_a_mapping(tmp_path: Path, parties: Registry, text: str) -> None:
    path = write(tmp_path, "bad.yaml", text)

    message = fails(tmp_path, parties)

    assert str(path) in message
    assert "'topics' list" in message


@pytest.mark.parametrize("text", ["topic:\n" + GOOD, "topics: 3\n"])
def test_missing_topics_list(tmp_path: Path, parties: Registry, text: str) -> None:
    path = write(tmp_path, "bad.yaml", text)

    message = fails(tmp_path, parties)

    assert str(path) in message
    assert "topics" in message


def test_a_topics_file_not_in_utf8_is_refused(tmp_path: Path, parties: Registry) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(("topics:\n  - {name: a.v1, doc: 线索, partitions: 3}\n").encode("gbk"))

    message = fails(tmp_path, parties)

    assert str(path) in message


def test_duplicate_topic_across_two_files(tmp_path: Path, parties: Registry) -> None:
    write(tmp_path, "a.yaml", "topics:\n" + GOOD)
    second = write(tmp_path, "b.yaml", "topics:\n  - {name: z.v1, doc: d, partitions: 1}\n" + GOOD)

    message = fails(tmp_path, parties)

    assert str(second) in message
    assert "'a.v1'" in message
    assert "also declared in a.yaml" in message


def test_template_clashing_with_a_plain_topic(tmp_path: Path, parties: Registry) -> None:
    write(tmp_path, "a.yaml", "topics:\n  - {name: raw.court.v1, doc: d, partitions: 1}\n")
    write(
        tmp_path,
        "b.yaml",
        "topics:\n  - {name: 'raw.{party}.v1', doc: d, partitions: 1, for_parties: all}\n",
    )

    message = fails(tmp_path, parties)

    assert "b.yaml" in message
    assert "'raw.court.v1'" in message
    assert "also declared in a.yaml" in message


def test_co_partition_group_with_unequal_counts(tmp_path: Path, parties: Registry) -> None:
    path = write(
        tmp_path,
        "orders.yaml",
        "topics:\n"
        "  - {name: o.v1, doc: d, partitions: 6, copartition: order}\n"
        "  - {name: e.v1, doc: d, partitions: 4, copartition: order}\n",
    )

    message = fails(tmp_path, parties)

    assert "co-partitioned group 'order'" in message
    assert "'o.v1': 6" in message
    assert "'e.v1': 4" in message
    assert "orders.yaml" in message, "the message must name the file to fix"
    assert str(path) in message


def test_co_partition_group_with_equal_counts_loads(tmp_path: Path, parties: Registry) -> None:
    write(
        tmp_path,
        "orders.yaml",
        "topics:\n"
        "  - {name: o.v1, doc: d, partitions: 6, copartition: order}\n"
        "  - {name: e.v1, doc: d, partitions: 6, copartition: order}\n"
        "  - {name: x.v1, doc: d, partitions: 2, copartition: other}\n",
    )

    assert {s.name for s in load_topics(tmp_path, parties)} == {"o.v1", "e.v1", "x.v1"}


def test_a_co_partitioned_topic_cannot_keep_more_partitions(
    tmp_path: Path, parties: Registry
) -> None:
    write(
        tmp_path,
        "orders.yaml",
        "topics:\n"
        "  - {name: o.v1, doc: d, partitions: 6, copartition: order, keep_more_partitions: true}\n",
    )

    message = fails(tmp_path, parties)

    assert "topics[0] (o.v1)" in message
    assert "co-partitioned topic cannot keep more partitions" in message


def test_empty_folder(tmp_path: Path, parties: Registry) -> None:
    write(tmp_path, "readme.txt", "no declarations here")

    message = fails(tmp_path, parties)

    assert str(tmp_path) in message
    assert "no topic declarations" in message


def test_missing_folder(tmp_path: Path, parties: Registry) -> None:
    message = fails(tmp_path / "absent", parties)

    assert str(tmp_path / "absent") in message


def test_topic_spec_error_is_a_config_error(tmp_path: Path, parties: Registry) -> None:
    with pytest.raises(ConfigError) as caught:
        load_topics(tmp_path, parties)

    assert isinstance(caught.value, TopicSpecError)
    assert caught.value.retriable is False
