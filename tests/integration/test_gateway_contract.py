"""Property-based run of the gateway against its own OpenAPI document (schemathesis).

A real `hub worker` (gateway, embedded registry) on the session broker answers requests
schemathesis generates from /v1/openapi.json; no answer may be a 5xx or break the
document (status codes, content types, headers, bodies).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import schemathesis.openapi
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.http import openapi_document
from tests.conftest import ROOT, free_port
from tests.integration.conftest import running_worker

HUB = str(ROOT / ".venv" / "bin" / "hub")
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(openapi_document()).exclude(
    path="/v1/inbox/stream"  # an endless event stream; covered by the inbox tests
)


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("contract")
    port = free_port()
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "HUB_DATA_DIR": str(data),
        "HUB_HTTP_PORT": str(port),
        "HUB_APP_ID": f"contract-{port}",
        "HUB_GATEWAY_RATE": "10000",
        "HUB_GATEWAY_BURST": "10000",
    }
    for command in (["topics", "apply"], ["reference", "load"]):
        done = subprocess.run(
            [HUB, *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
    token = subprocess.run(
        [HUB, "tokens", "issue", "street-jiyuqiao"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = Path(data) / "worker.log"
    with running_worker(env, log) as base:
        yield base, token
    assert "Traceback" not in log.read_text(), log.read_text()[-5000:]


@schema.parametrize()
@settings(
    max_examples=15,  # per operation; `make faults` runs every check, 40 each, as 29 parties
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_gateway_honours_its_openapi_document(
    case: schemathesis.Case, worker: tuple[str, str]
) -> None:
    base, token = worker
    case.call_and_validate(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
