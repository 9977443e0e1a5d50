"""The house plan holds (docs/design.md §7): one Kafka edge, a core that does not lean on
the connectors, and tests that share helpers only through their folders' conftest.py.

- No code outside ``hub/wire/`` builds a per-party topic name, writes the ``hub.kind``
  header by hand or makes a producer of its own.
- ``hub`` imports nothing from ``connectors`` outside the worker's composition root
  (``hub/worker/``); the ``hub connectors`` commands are the connectors' own plug-in
  (``connectors/cli.py``, a ``hub.commands`` entry point).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "hub" / "wire"
CODE = [ROOT / "hub", ROOT / "connectors", ROOT / "deploy"]
FORBIDDEN = ('f"out.', 'f"raw.', '"hub.kind"', "AIOKafkaProducer(")
COMPOSITION_ROOTS = [ROOT / "hub" / "worker"]


def _sources() -> list[Path]:
    return sorted(p for folder in CODE for p in folder.rglob("*.py") if EDGE not in p.parents)


def test_only_the_kafka_edge_names_topics_headers_and_producers() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {needle}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for needle in FORBIDDEN
        if needle in line
    ]
    assert found == [], "use hub.wire (topic names, HubHeaders, new_producer) instead"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_root(path: Path) -> bool:
    return any(path == root or root in path.parents for root in COMPOSITION_ROOTS)


def test_the_core_does_not_import_the_connectors() -> None:
    leaning = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "hub").rglob("*.py"))
        if not _is_root(path)
        and any(name == "connectors" or name.startswith("connectors.") for name in _imports(path))
    ]
    assert leaning == [], "only the worker's composition root may import connectors"


TESTS = ROOT / "tests"


def test_no_test_module_imports_another_and_test_names_are_unique() -> None:
    """Shared helpers live in each folder's conftest.py (and tests/conftest.py); a test's
    name says what it proves, once in the suite."""
    modules = sorted(TESTS.rglob("test_*.py"))
    leaning = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules
        for name in _imports(path)
        if re.fullmatch(r"tests\.(\w+\.)*test_\w+", name)
    ]
    assert leaning == []
    seen: dict[str, str] = {}
    twice = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                if node.name in seen:
                    twice.append(f"{node.name}: {seen[node.name]} and {path.relative_to(ROOT)}")
                seen[node.name] = str(path.relative_to(ROOT))
    assert twice == []
