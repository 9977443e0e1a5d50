"""Schemathesis hooks for the fault suite's contract case: every generated request
carries the next party's bearer token in turn, so one run speaks as every party.

The tokens come from the JSON file (party -> token) named by HUB_CONTRACT_TOKENS; the
suite loads this module with SCHEMATHESIS_HOOKS=tests.faults.contract_hooks.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import schemathesis

_TOKENS = json.loads(Path(os.environ["HUB_CONTRACT_TOKENS"]).read_text())
_TURN = itertools.cycle(sorted(_TOKENS.items()))


@schemathesis.auth(refresh_interval=None)
class EveryParty:
    """Bearer tokens of every party, one request each in turn."""

    def get(self, case: Any, ctx: Any) -> str:
        return ""

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _, token = next(_TURN)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
