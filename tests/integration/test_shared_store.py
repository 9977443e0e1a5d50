"""The shared view survives a restart on the worker's disk (issue 17, real broker): a
worker stopped and started again answers lookups of what it had read from its store,
reads only what was written while it was down, and a store that no longer fits the
topics is read again from the start."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from hub.records import uscc_check_char
from hub.shared import ViewStore
from tests.conftest import ROOT
from tests.integration.conftest import http_json, issue_tokens, worker_env, worker_process
from tests.samples import sample

pytestmark = pytest.mark.kafka
HUB = str(ROOT / ".venv" / "bin" / "hub")
STREET = "street-jiyuqiao"
PURPOSE = {"X-Hub-Purpose": quote("复启核验")}


def _uscc() -> str:
    body = "91420106MA4K" + f"{uuid.uuid4().int % 10**5:05d}"
    return body + uscc_check_char(body)


def _publish(base: str, token: str, uscc: str) -> None:
    entity = sample("entity", source_id=f"entity/{uscc}", uscc=uscc)
    status, answer = http_json(base, "/v1/records/entity", token, entity)
    assert status == 202, answer


def _found(base: str, token: str, uscc: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        status, answer = http_json(base, f"/v1/shared/entity/{uscc}", token, headers=PURPOSE)
        if status == 200:
            return answer
        assert status in (404, 503) and time.monotonic() < deadline, answer
        time.sleep(0.3)


def test_a_restarted_worker_answers_from_its_store_and_reads_only_what_is_new(
    applied_topics: str, tmp_path: Path
) -> None:
    env = worker_env(applied_topics, tmp_path, "shared-store")
    port = int(env["HUB_HTTP_PORT"])
    tokens = issue_tokens(env, (STREET, "bigdata"))
    base = f"http://127.0.0.1:{port}"
    before, during, after = _uscc(), _uscc(), _uscc()

    with worker_process(env, tmp_path / "first.log"):
        _publish(base, tokens["bigdata"], before)
        _found(base, tokens[STREET], before)
    # written while no worker runs: the next one must still read it
    row = {k: v for k, v in sample("entity", uscc=during).items()
           if k not in ("source_party", "source_id", "occurred_at")}
    (tmp_path / "during.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    loaded = subprocess.run([HUB, "shared", "load", str(tmp_path / "during.jsonl"), "--quiet"],
                            env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    store = tmp_path / "shared-view" / f"shared-store-{port}-{port}"
    assert store.is_dir()

    with worker_process(env, tmp_path / "second.log"):
        assert _found(base, tokens[STREET], before)["record"]["uscc"] == before
        assert _found(base, tokens[STREET], during)["record"]["uscc"] == during
    said = (tmp_path / "second.log").read_text()
    assert "resuming from the store" in said, said[-3000:]

    # a store that does not fit the topics (another cluster's, here an offset beyond
    # their ends) is cleared and the topics read from the start
    shutil.rmtree(store)
    stale = ViewStore(store)
    stale.keep_offset("share.entity.v1", 0, 10**12)
    stale.close()
    with worker_process(env, tmp_path / "third.log"):
        _publish(base, tokens["bigdata"], after)
        for uscc in (before, during, after):
            assert _found(base, tokens[STREET], uscc)["record"]["uscc"] == uscc
    said = (tmp_path / "third.log").read_text()
    assert "no longer hold what the store read" in said, said[-3000:]
