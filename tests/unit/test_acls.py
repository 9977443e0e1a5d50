"""Kafka ACLs from topics/ and the parties (issue 18), broker-free: what each principal
may do, and how a plan compares with what a cluster holds."""

from __future__ import annotations

from pathlib import Path

from hub.access import (
    OPS,
    WORKER,
    Grant,
    acl_diff,
    acl_plan,
    configured_connectors,
    managed,
    principal,
    principals,
)
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import load_topics

SETTINGS = HubSettings()
PARTIES = load_parties(SETTINGS.parties_file)
TOPICS = load_topics(SETTINGS.topics_dir, PARTIES)
PLAN = acl_plan(TOPICS, PARTIES, "wuchang-hub")


def _of(who: str) -> set[tuple[str, str, str, str]]:
    return {(g.resource, g.pattern, g.name, g.operation) for g in PLAN
            if g.principal == principal(who)}


def test_a_party_writes_only_its_raw_topic_and_reads_only_its_inbox() -> None:
    assert _of("street-jiyuqiao") == {
        ("TOPIC", "LITERAL", "raw.street-jiyuqiao.v1", "WRITE"),
        ("TOPIC", "LITERAL", "raw.street-jiyuqiao.v1", "DESCRIBE"),
        ("TOPIC", "LITERAL", "out.street-jiyuqiao.v1", "READ"),
        ("TOPIC", "LITERAL", "out.street-jiyuqiao.v1", "DESCRIBE"),
        ("GROUP", "PREFIXED", "street-jiyuqiao", "READ"),
    }
    assert _of("ops") == set()  # operators use the hub-ops principal


def test_only_the_workers_read_the_pipeline_audit_and_changelogs() -> None:
    readers = {g.principal for g in PLAN if g.operation == "READ" and g.resource == "TOPIC"
               and g.name.startswith(("enf.", "share.", "data.", "hub.audit", "wuchang-hub-"))}
    assert readers == {principal(WORKER)}
    worker = _of(WORKER)
    assert ("TOPIC", "PREFIXED", "wuchang-hub-", "CREATE") in worker  # its changelogs
    assert ("TRANSACTIONAL_ID", "PREFIXED", "wuchang-hub-", "WRITE") in worker  # fences
    assert ("GROUP", "PREFIXED", "wuchang-hub", "READ") in worker
    assert all(("TOPIC", "LITERAL", t.name, "WRITE") in worker for t in TOPICS)


def test_the_ops_principal_reads_the_dlq_and_connector_state_and_describes_the_rest() -> None:
    reads = {name for resource, _, name, op in _of(OPS) if op == "READ"}
    assert reads == {"hub.dlq.v1", "hub.connector-state.v1"}
    assert {op for _, _, _, op in _of(OPS)} <= {"READ", "WRITE", "DESCRIBE"}


def test_the_diff_adds_what_is_missing_removes_strays_and_leaves_foreign_grants_alone() -> None:
    stray = Grant(principal("street-jiyuqiao"), "TOPIC", "LITERAL", "enf.case.v1", "READ")
    foreign = Grant("User:someone-else", "TOPIC", "LITERAL", "enf.case.v1", "READ")
    held = [*PLAN[:10], stray, foreign]
    diff = acl_diff(PLAN, held, managed(PARTIES))
    assert diff.add == PLAN[10:]
    assert diff.remove == [stray] and diff.foreign == [foreign]
    again = acl_diff(PLAN, [*PLAN, foreign], managed(PARTIES))
    assert again.in_sync and again.foreign == [foreign]


def test_each_connector_is_a_principal_with_only_its_party_and_role(tmp_path: Path) -> None:
    config = tmp_path / "connectors.yaml"
    config.write_text(
        "connectors:\n"
        "  - {name: police-cases, party: police, type: webhook, url: 'http://127.0.0.1:9/in'}\n"
        "  - {name: urban-drop, party: dept-urban, type: file-drop, directory: /tmp/in,"
        " native_kind: urban-case}\n"
        "  - {name: urban-direct, party: dept-urban, type: kafka}\n",
        encoding="utf-8",
    )
    settings = HubSettings(connectors_file=config)
    found = configured_connectors(settings)  # through the connectors' entry point
    assert [(c.user, c.role) for c in found] == [
        ("connector-police-cases", "sink"), ("connector-urban-drop", "source")]
    plan = acl_plan(TOPICS, PARTIES, "wuchang-hub", found)
    sink = {(g.resource, g.name, g.operation) for g in plan
            if g.principal == principal("connector-police-cases")}
    source = {(g.resource, g.name, g.operation) for g in plan
              if g.principal == principal("connector-urban-drop")}
    common = {("TOPIC", "hub.connector-state.v1", "READ"),
              ("TOPIC", "hub.connector-state.v1", "WRITE"),
              ("TOPIC", "hub.connector-state.v1", "DESCRIBE"),
              ("TOPIC", "hub.dlq.v1", "WRITE"), ("TOPIC", "hub.dlq.v1", "DESCRIBE"),
              ("TOPIC", "_schemas", "READ"), ("TOPIC", "_schemas", "DESCRIBE")}
    assert sink == common | {("TOPIC", "out.police.v1", "READ"),
                             ("TOPIC", "out.police.v1", "DESCRIBE"),
                             ("GROUP", "wuchang-hub-connector-police-cases", "READ")}
    assert source == common | {("TOPIC", "raw.dept-urban.v1", "WRITE"),
                               ("TOPIC", "raw.dept-urban.v1", "DESCRIBE")}
    assert principal("connector-urban-drop") in managed(PARTIES, found)
    assert "connector-police-cases" in principals(PARTIES, found)
    assert configured_connectors(HubSettings()) == []  # no file, no connector principals
