"""Unit-test fixtures: every test starts from an environment without HUB_* variables."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop HUB_* variables of the calling shell so defaults and errors are deterministic."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
