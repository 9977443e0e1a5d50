"""Connector configuration: the shipped example loads, and wrong entries are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import load_connectors
from hub.errors import ConfigError
from hub.mapping import load_catalogue
from hub.reference import load_parties
from tests.conftest import ROOT

PARTIES = load_parties(ROOT / "hub" / "reference" / "parties.yaml")


def test_the_example_file_loads_and_names_shipped_native_kinds() -> None:
    configs = load_connectors(ROOT / "deploy" / "connectors.example.yaml", PARTIES)
    assert {c.type for c in configs} == {"webhook", "http-poll", "file-drop", "kafka"}
    catalogue = load_catalogue()
    for config in configs:
        kind = getattr(config, "native_kind", None)
        if kind is not None:
            assert catalogue.inbound(PARTIES.get(config.party), kind) is not None, config.name


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("- {name: a-b, party: police, type: carrier-pigeon}", "carrier-pigeon"),
        ("- {name: x1, party: nobody, type: kafka}", "'nobody' is not a party"),
        ("- {name: x1, party: ops, type: kafka}", "'ops' is not a party"),
        (
            "- {name: x1, party: police, type: kafka}\n  - {name: x1, party: court, type: kafka}",
            "name 'x1' repeats",
        ),
        ("- {name: w1, party: police, type: webhook}", "url"),
        ("- {name: w1, party: police, type: webhook, url: 'not a url'}", "url"),
        (
            "- {name: p1, party: bigdata, type: http-poll, url: 'http://x', native_kind: k, "
            "interval_seconds: 0}",
            "interval_seconds",
        ),
    ],
)
def test_a_wrong_entry_is_named(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(f"connectors:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_connectors(path, PARTIES)
    assert problem in str(caught.value) and str(path) in str(caught.value)
