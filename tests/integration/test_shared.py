"""Information sharing on the real broker (issue 17): the big-data bureau publishes an
entity and its permits; a street looks them up through a worker with a purpose and gets
the masked view; its read is in the audit topic; without a purpose it is 400, and a party
the dataset is not open to gets 403.

On the secured cluster (issue 18): the worker runs as ``hub-worker`` under the hub's
ACLs, the bulk load as ``hub-worker`` too (it writes the shared topic and the audit), and
the audit trail is read as the admin (nobody else may)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from hub.records import AuditEvent, uscc_check_char
from hub.registry import RegistryClient
from hub.serde import AvroSerde
from tests.conftest import ROOT
from tests.integration.conftest import (
    Brokers,
    SecureCluster,
    Worker,
    end_offsets,
    http_json,
    hub_worker,
    read_range,
)
from tests.samples import sample

pytestmark = pytest.mark.kafka
HUB = str(ROOT / ".venv" / "bin" / "hub")

STREET = "street-jiyuqiao"
PURPOSE = {"X-Hub-Purpose": quote("派单 WS-2026-0001 现场核查")}


@pytest.fixture(scope="module")
def worker(
    secure_cluster: SecureCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    parties = (STREET, "bigdata", "finance")
    with hub_worker(secure_cluster, Path(tmp_path_factory.mktemp("shared")), parties) as started:
        yield started


def _new_uscc() -> str:
    body = "91420106MA4K" + f"{uuid.uuid4().int % 10**5:05d}"
    return body + uscc_check_char(body)


def _get(worker: Worker, path: str, party: str, headers: dict[str, str] | None = None,
         ) -> tuple[int, Any]:
    return http_json(worker.base, path, worker.tokens[party], headers=headers)


def test_a_street_reads_an_entity_and_its_permits_masked_and_the_read_is_audited(
    worker: Worker, secure_cluster: SecureCluster
) -> None:
    uscc = _new_uscc()
    entity = sample("entity", source_id=f"entity/{uscc}", uscc=uscc, legal_representative="赵六")
    permit = sample("permit", source_id=f"permit/{uscc}", permit_no=f"JY{uscc[-8:]}",
                    holder_uscc=uscc)
    for kind, record in (("entity", entity), ("permit", permit)):
        status, answer = http_json(worker.base, f"/v1/records/{kind}",
                                   worker.tokens["bigdata"], record)
        assert status == 202, answer

    deadline = time.monotonic() + 30
    while True:  # the view follows the share topics: within moments
        status, found = _get(worker, f"/v1/shared/entity/{uscc}", STREET, PURPOSE)
        if status == 200:
            break
        assert status in (404, 503) and time.monotonic() < deadline, found
        time.sleep(0.3)
    assert found["access"] == "masked"
    assert found["record"]["legal_representative"] == "赵*"
    assert "source_party" not in found["record"]
    status, permits = _get(worker, f"/v1/shared/permit?holder_uscc={uscc}", STREET, PURPOSE)
    deadline = time.monotonic() + 30
    while status == 200 and not permits["records"] and time.monotonic() < deadline:
        time.sleep(0.3)
        status, permits = _get(worker, f"/v1/shared/permit?holder_uscc={uscc}", STREET, PURPOSE)
    assert status == 200 and [p["permit_no"] for p in permits["records"]] == [permit["permit_no"]]

    status, refused = _get(worker, f"/v1/shared/entity/{uscc}", STREET)
    assert status == 400 and "X-Hub-Purpose" in refused["detail"]
    status, refused = _get(worker, f"/v1/shared/permit/{permit['permit_no']}", "finance", PURPOSE)
    assert status == 403 and "request" in refused["detail"]

    reads = asyncio.run(_reads_of(secure_cluster.client("admin"), worker.base, uscc))
    entity_read = next(a for a in reads if (a.dataset, a.status_code) == ("entity", 200))
    assert (entity_read.actor_party, entity_read.purpose, entity_read.record_key) == (
        STREET, "派单 WS-2026-0001 现场核查", uscc)
    assert "legal_representative" in entity_read.fields and entity_read.returned == 1
    assert "赵" not in str(entity_read.model_dump())  # field names, never values
    refused = next(a for a in reads if (a.dataset, a.status_code) == ("entity", 400))
    assert refused.result.value == "REJECTED" and refused.purpose is None


async def _reads_of(bootstrap: Brokers, base: str, uscc: str) -> list[AuditEvent]:
    """The audited reads of shared data naming uscc, waiting up to 30 s for them; decoded
    with the worker's own registry."""
    registry = RegistryClient(f"{base}/registry")
    try:
        return await _audited(bootstrap, AvroSerde(registry), uscc)
    finally:
        await registry.close()


async def _audited(bootstrap: Brokers, serde: AvroSerde, uscc: str) -> list[AuditEvent]:
    deadline = time.monotonic() + 30
    while True:
        ends = await end_offsets(bootstrap, "hub.audit.v1")
        messages = await read_range(bootstrap, "hub.audit.v1", {}, ends)
        reads = []
        for message in messages:
            if uscc.encode() in message.value:
                event = await serde.decode("audit", message.value)
                assert isinstance(event, AuditEvent)
                if event.dataset is not None:
                    reads.append(event)
        answered = {(a.dataset, a.status_code) for a in reads}
        if {("entity", 200), ("permit", 200), ("entity", 400)} <= answered:
            return reads
        assert time.monotonic() < deadline, f"{len(reads)} audited reads"
        await asyncio.sleep(0.5)


def test_a_decided_penalty_joins_the_entitys_enforcement_record_within_seconds(
    worker: Worker,
) -> None:
    """Issue 17: enforcement results flow back into shared data (信用记录)."""
    uscc = _new_uscc()
    case = sample("case", source_id=f"CASE-{uuid.uuid4().hex[:10]}",
                  party={"party_type": "ORGANISATION", "name": "武汉市武昌区示例商行",
                         "uscc": uscc})
    status, answer = http_json(worker.base, "/v1/records/case", worker.tokens[STREET], case)
    assert status == 202, answer
    started = time.monotonic()
    while True:
        status, found = _get(worker, f"/v1/shared/penalty?uscc={uscc}", "bigdata", PURPOSE)
        assert status == 200, found
        if found["records"]:
            break
        assert time.monotonic() - started < 30, "the penalty never reached the record"
        time.sleep(0.3)
    (penalty,) = found["records"]
    assert penalty["case_record_id"] == answer["record_id"]
    assert (penalty["party_name"], penalty["amount"]) == ("武汉市武昌区示例商行", "500.00")
    assert penalty["decision_no"] == case["decision"]["decision_no"]


def test_an_owners_extract_is_bulk_loaded_checked_row_by_row_and_then_looked_up(
    worker: Worker, secure_cluster: SecureCluster, tmp_path: Path
) -> None:
    """Issue 17: the big-data bureau loads its register from a file (`hub shared load`);
    good rows become lookups, a bad row is named with its line and rule."""
    usccs = [_new_uscc() for _ in range(40)]
    rows = [
        {"uscc": u, "name": f"武昌示例商户{i}", "legal_representative": "钱七",
         "address": "武昌区中南路1号", "registered_on": "2020-01-01", "status": "ACTIVE"}
        for i, u in enumerate(usccs)
    ]
    extract = tmp_path / "entities.jsonl"
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    lines.insert(10, json.dumps({**rows[0], "uscc": "91420106MA4K00000X"}))  # bad check char
    extract.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = secure_cluster.env("hub-worker", HUB_DATA_DIR=str(tmp_path / "data"),
                             HUB_LOG_LEVEL="INFO")
    done = subprocess.run([HUB, "shared", "load", str(extract), "--dataset", "entity"],
                          env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1, done.stderr  # one row refused
    assert "40 of 41 rows written to share.entity.v1" in done.stdout, done.stdout
    assert "line 11: uscc: [uscc." in done.stderr, done.stderr
    assert "rows/s" in done.stderr  # the progress line

    deadline = time.monotonic() + 30
    while True:
        status, found = _get(worker, f"/v1/shared/entity/{usccs[-1]}", STREET, PURPOSE)
        if status == 200:
            break
        assert status == 404 and time.monotonic() < deadline, found
        time.sleep(0.3)
    assert found["record"]["name"] == "武昌示例商户39"
    assert found["record"]["legal_representative"] == "钱*"
    (loaded,) = asyncio.run(_loads_of(secure_cluster.client("admin"), worker.base, extract.name))
    assert loaded.action == "shared.load entity" and "40 of 41 rows" in (loaded.detail or "")


async def _loads_of(bootstrap: Brokers, base: str, file_name: str) -> list[AuditEvent]:
    """The audit events of bulk loads of file_name."""
    registry = RegistryClient(f"{base}/registry")
    try:
        ends = await end_offsets(bootstrap, "hub.audit.v1")
        found = []
        for message in await read_range(bootstrap, "hub.audit.v1", {}, ends):
            if file_name.encode() in message.value:
                event = await AvroSerde(registry).decode("audit", message.value)
                assert isinstance(event, AuditEvent)
                found.append(event)
        return found
    finally:
        await registry.close()


def _inbox(worker: Worker, party: str, kind: str) -> list[dict[str, Any]]:
    status, page = _get(worker, "/v1/inbox?limit=1000", party)
    assert status == 200, page
    return [item["record"] for item in page["items"] if item.get("kind") == kind]


def _until(what: str, found: Any, seconds: float = 30.0) -> Any:
    """found() until it is truthy, at most seconds."""
    deadline = time.monotonic() + seconds
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:.0f} s"
        time.sleep(0.5)


def _permit_of(worker: Worker, uscc: str, number: str) -> None:
    permit = sample("permit", source_id=f"permit/{number}", permit_no=number, holder_uscc=uscc)
    status, answer = http_json(worker.base, "/v1/records/permit", worker.tokens["bigdata"], permit)
    assert status == 202, answer


def test_a_party_without_access_subscribes_with_approval_gets_the_snapshot_and_changes_until_revoked(  # noqa: E501
    worker: Worker,
) -> None:
    uscc = _new_uscc()
    first, later, after = (f"JY{uscc[-8:]}{n}" for n in "123")
    _permit_of(worker, uscc, first)
    status, refused = _get(worker, f"/v1/shared/permit/{first}", "finance", PURPOSE)
    assert status == 403, refused

    # finance asks for one holder's permits; the big-data bureau, their owner, is told
    status, asked = http_json(worker.base, "/v1/subscriptions", worker.tokens["finance"], {
        "dataset": "permit", "purpose": "罚没款收缴核对", "filter_field": "holder_uscc",
        "filter_value": uscc,
    })
    assert status == 202, asked
    assert asked["state_after"] == "PENDING"
    sub_id = asked["subscription_id"]
    requests = _until("the request in the owner's inbox", lambda: [
        r for r in _inbox(worker, "bigdata", "subscription") if r["subscription_id"] == sub_id
    ])
    assert requests[0]["action"] == "REQUESTED" and requests[0]["subscriber"] == "finance"

    def approve() -> Any:  # 503 while the request is being applied: its notice came first
        status, answer = http_json(
            worker.base, f"/v1/subscriptions/{sub_id}/approve", worker.tokens["bigdata"],
            {"access": "full", "reason": "收缴核对需要许可信息"},
        )
        assert status in (202, 503), answer
        return answer if status == 202 else None

    approved = _until("the approval taken", approve)
    assert approved["state_after"] == "ACTIVE"

    def changes() -> list[dict[str, Any]]:
        return [r for r in _inbox(worker, "finance", "shared-change")
                if r["subscription_id"] == sub_id]

    # the snapshot: the permit that was there before the approval
    snapshot = _until("the snapshot in the subscriber's inbox", changes)
    assert [c["key"] for c in snapshot] == [first]
    assert json.loads(snapshot[0]["data"])["holder_uscc"] == uscc
    decisions = [r["action"] for r in _inbox(worker, "finance", "subscription")
                 if r["subscription_id"] == sub_id]
    assert decisions == ["APPROVED"]

    # then every change
    _permit_of(worker, uscc, later)
    _until("a later change in the subscriber's inbox",
           lambda: [c for c in changes() if c["key"] == later])
    shown = _until("the delivery counted (the cursor is written after the outputs)", lambda: (
        lambda got: got[1] if got[0] == 200 and got[1]["delivered"] >= 2 else None
    )(_get(worker, f"/v1/subscriptions/{sub_id}", "finance")))
    assert shown["state"] == "ACTIVE" and shown["access"] == "full"
    assert [step["action"] for step in shown["history"]] == ["REQUESTED", "APPROVED"]

    # revoked: nothing more arrives
    status, revoked = http_json(worker.base, f"/v1/subscriptions/{sub_id}/revoke",
                                worker.tokens["finance"], {"reason": "核对完毕"})
    assert status == 202, revoked
    _until("the revocation applied", lambda: _get(
        worker, f"/v1/subscriptions/{sub_id}", "finance")[1]["state"] == "REVOKED")
    _permit_of(worker, uscc, after)
    _until("the permit published after the revocation in the view", lambda: _get(
        worker, f"/v1/shared/permit/{after}", STREET, PURPOSE)[0] == 200)
    time.sleep(3)  # the pump runs every second: it had its chances to deliver
    assert [c["key"] for c in changes()] == [first, later]
