"""Schemathesis hooks for the fault suite's contract case: every generated request
carries the next party's bearer token in turn, so one run speaks as every party; and a
body meant to conform (positive mode) also keeps the rules the document names but no
JSON schema can say (`tests.faults.unsaid`), as a careful client's would.

The tokens come from the JSON file (party -> token) named by HUB_CONTRACT_TOKENS, the
served document from HUB_CONTRACT_OPENAPI; the suite loads this module with
SCHEMATHESIS_HOOKS=tests.faults.contract_hooks.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import schemathesis

from tests.faults.unsaid import mend, one_secondary_key, roster_of

_TOKENS = json.loads(Path(os.environ["HUB_CONTRACT_TOKENS"]).read_text())
_TURN = itertools.cycle(sorted(_TOKENS.items()))
_SUBSCRIPTION_ACTION = "/v1/subscriptions/{subscription_id}/"
_ROSTER = roster_of(json.loads(Path(os.environ["HUB_CONTRACT_OPENAPI"]).read_text()))


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A positive body keeps the unsaid rules; a negative one is left as generated. A
    positive search of shared data asks by exactly one secondary key of a dataset that
    has one (a rule no OpenAPI parameter list can say)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.body, dict):
        if not case.body and case.operation.path.startswith(_SUBSCRIPTION_ACTION):
            case.body = {"reason": None}  # an empty decision: `mend` gives it its reason
        mend(case.body, _ROSTER)
    if case.operation.path == "/v1/shared/{dataset}":
        dataset, key = one_secondary_key(case.path_parameters.get("dataset"))
        case.path_parameters = {**case.path_parameters, "dataset": dataset}
        case.query = {key: "91420106MA4K00000X"}
    return case


@schemathesis.auth(refresh_interval=None)
class EveryParty:
    """Bearer tokens of every party, one request each in turn."""

    def get(self, case: Any, ctx: Any) -> str:
        return ""

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _, token = next(_TURN)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
