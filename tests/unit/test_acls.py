"""Kafka ACLs from topics/ and the parties (issue 18), broker-free: what each principal
may do, and how a plan compares with what a cluster holds."""

from __future__ import annotations

from hub.access import OPS, WORKER, Grant, acl_diff, acl_plan, managed, principal
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
