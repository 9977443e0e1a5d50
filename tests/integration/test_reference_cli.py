"""`hub schemas register`, `hub reference load|sync` and `hub validate` on the real broker."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.samples import sample

HUB = str(ROOT / ".venv" / "bin" / "hub")


def _hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUB, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "HUB_DATA_DIR": str(tmp_path / "data"),
    }
    applied = _hub("topics", "apply", env=environment)
    assert applied.returncode == 0, applied.stderr
    return environment


def test_schemas_register_is_idempotent(env: dict[str, str]) -> None:
    first = _hub("schemas", "register", env=env)
    assert first.returncode == 0, first.stderr
    second = _hub("schemas", "register", env=env)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert "enf.order.v1-value" in first.stdout and "-> id" in first.stdout


def test_reference_published_then_synced_drives_validation(
    env: dict[str, str], tmp_path: Path
) -> None:
    loaded = _hub("reference", "load", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "published 56 matters" in loaded.stdout

    cache = Path(env["HUB_DATA_DIR"]) / "reference-cache.json"
    cache.unlink()
    record = tmp_path / "case.json"
    record.write_text(json.dumps(sample("case")), encoding="utf-8")
    without_cache = _hub("validate", "case", str(record), env=env)
    assert without_cache.returncode == 2
    assert "hub reference sync" in without_cache.stderr

    synced = _hub("reference", "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert "cached 56 matters and 60 officers" in synced.stdout
    assert cache.exists()

    valid = _hub("validate", "case", str(record), env=env)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    unknown = tmp_path / "bad.jsonl"
    unknown.write_text(
        json.dumps(sample("case", matter_code="URB-999"))
        + "\n"
        + json.dumps(sample("case"))
        + "\n",
        encoding="utf-8",
    )
    invalid = _hub("validate", "case", str(unknown), env=env)
    assert invalid.returncode == 1
    assert f"{unknown}:1: matter_code: [matter.unknown]" in invalid.stdout
    assert ":2:" not in invalid.stdout
