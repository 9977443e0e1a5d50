"""The fault suite's contract case: schemathesis, with every check it has, against the
hub's own /v1/openapi.json, speaking as every party in turn (`contract_hooks`).

Every failure schemathesis reports is a finding: a 5xx (not_a_server_error) or a
disagreement between the document and the handlers (a schema-valid request refused, a
schema-violating one accepted, an undocumented status, header or body).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.reference import load_parties
from tests.conftest import ROOT

SCHEMATHESIS = str(ROOT / ".venv" / "bin" / "schemathesis")
PARTIES_FILE = ROOT / "hub" / "reference" / "parties.yaml"
SERVER_ERROR = "ST101"  # schemathesis's code for a 5xx answer (not_a_server_error)
ENDLESS = "/v1/inbox/stream"  # an event stream that never ends; the inbox tests cover it


def token_parties() -> list[str]:
    """Every party a token can be issued for (the hub itself cannot be authenticated as)."""
    return [p.id for p in load_parties(PARTIES_FILE) if p.id != "hub"]


@dataclass
class Findings:
    """What one schemathesis run found."""

    requests: int = 0
    server_errors: int = 0
    findings: list[str] = field(default_factory=list)
    exit_code: int = 0
    seconds: float = 0.0
    details: str = ""  # schemathesis's FAILURES section: each request, answer, curl


def _failures(output: str, limit: int = 6000) -> str:
    """The FAILURES section of schemathesis's output (tokens are filtered there)."""
    start = output.find("= FAILURES =")
    if start < 0:
        return ""
    ends = [at for at in (output.find(f"= {name} =", start) for name in ("WARNINGS", "SUMMARY"))
            if at > 0]
    section = output[output.rfind("\n", 0, start) + 1:min(ends) if ends else None]
    return section[:limit].strip()


def run_schemathesis(base: str, tokens: dict[str, str], work: Path, examples: int,
                     seed: int) -> Findings:
    """Run schemathesis against the worker at base, every request with the next party's
    token; the run's JSON report says what it found."""
    work.mkdir(parents=True, exist_ok=True)
    first = next(iter(tokens.values()))
    request = urllib.request.Request(base + "/v1/openapi.json",  # noqa: S310
                                     headers={"Authorization": f"Bearer {first}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        (work / "openapi.json").write_bytes(answer.read())
    (work / "tokens.json").write_text(json.dumps(tokens))
    report = work / "schemathesis.json"
    env = {**os.environ, "HUB_CONTRACT_TOKENS": str(work / "tokens.json"),
           "HUB_CONTRACT_OPENAPI": str(work / "openapi.json"),
           "SCHEMATHESIS_HOOKS": "tests.faults.contract_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [SCHEMATHESIS, "run", str(work / "openapi.json"), "--url", base, "--checks", "all",
         "--exclude-path", ENDLESS, "--max-examples", str(examples), "--seed", str(seed),
         "--suppress-health-check", "all", "--workers", "2", "--no-color",
         "--generation-database", "none",
         "--report", "json", "--report-json-path", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    (work / "schemathesis.log").write_text(done.stdout + done.stderr)
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report: {done.stdout[-2000:]}"
                           f"{done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(report.read_text())
    found = Findings(requests=data["test_cases"]["generated"], exit_code=done.returncode,
                     seconds=round(float(data["running_time"]), 1),
                     details=_failures(done.stdout))
    for failure in data.get("failures", []):
        if failure.get("code") == SERVER_ERROR:
            found.server_errors += int(failure.get("count", 1))
        found.findings.append(f"{failure.get('code')} {failure.get('title')} x"
                              f"{failure.get('count')}: {', '.join(failure.get('operations', []))}")
    for error in data.get("errors", []):
        found.findings.append("error: " + json.dumps(error, ensure_ascii=False)[:600])
    return found
