"""The benchmark loops that need no Kafka still run on the hub's current code (they call
its mapping, models, serde and dispatch functions, so a change there shows up here
rather than in the middle of `make bench`)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", ["b3", "b5"])
def test_an_offline_loop_processes_every_record_and_reports_one_json_line(case: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.loops", case, "--size", "small", "--records", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (line,) = done.stdout.strip().splitlines()
    result = json.loads(line)
    assert result["case"] == case and result["records"] == 40
    assert result["records_per_s"] > 0 and result["loop_cpu_s"] > 0
    if case == "b5":  # the view with its credits, JSON, as the orders table keeps it
        assert result["view_bytes"] > 300
    else:
        assert 150 < result["avro_bytes"] < 250


BENCH_MODULES = sorted(
    p.stem for p in (ROOT / "tests" / "bench").glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("module", BENCH_MODULES)
def test_every_bench_module_imports(module: str) -> None:
    """`make bench` runs these; an import broken by a move elsewhere must fail here first."""
    importlib.import_module(f"tests.bench.{module}")
