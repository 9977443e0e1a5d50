"""The committed Avro schemas (schemas/<kind>/v<N>.avsc) against the models.

Besides comparing with `Kind.schema()` (generated from the models by the code under
test), the models and the Avro schemas are walked independently here, so a generator
bug that changed both sides the same way would still be caught.
"""

from __future__ import annotations

import copy
import json
import re
import types
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import avro.schema
import fastavro
import pytest
from pydantic import BaseModel

import hub.cli
from hub.records import KINDS, NAMESPACE, SCHEMAS_DIR, Kind, committed_schema, schema_versions

CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")
KIND_NAMES = list(KINDS)
ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ independent walk


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _split_optional(annotation: Any) -> tuple[bool, Any]:
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        args = get_args(annotation)
        others = [a for a in args if a is not type(None)]
        assert len(others) == 1 and len(args) == 2, f"unexpected union {annotation}"
        return True, _unwrap(others[0])
    return False, annotation


class Walker:
    """Compares a model class with an Avro record schema, resolving named references."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}
        self.models_seen: set[str] = set()

    def _resolve(self, avro_type: Any) -> Any:
        if isinstance(avro_type, str) and "." in avro_type:
            assert avro_type in self.named, f"reference to undefined type {avro_type}"
            return self.named[avro_type]
        return avro_type

    def _define(self, avro_type: dict[str, Any], path: str) -> None:
        assert avro_type.get("namespace") == NAMESPACE, path
        fullname = f"{avro_type['namespace']}.{avro_type['name']}"
        assert fullname not in self.named, f"{path}: {fullname} defined twice"
        self.named[fullname] = avro_type

    def record(self, model: type[BaseModel], avro_type: Any, path: str) -> None:
        if isinstance(avro_type, str):
            assert avro_type == f"{NAMESPACE}.{model.__name__}", path
            avro_type = self._resolve(avro_type)
        else:
            assert isinstance(avro_type, dict), path
            assert avro_type["type"] == "record", path
            assert avro_type["name"] == model.__name__, path
            self._define(avro_type, path)
        fields = avro_type["fields"]
        assert [f["name"] for f in fields] == list(model.model_fields), (
            f"{path}: field names or order differ"
        )
        for field in fields:
            info = model.model_fields[field["name"]]
            where = f"{path}.{field['name']}"
            optional, inner = _split_optional(info.annotation)
            if optional:
                assert isinstance(field["type"], list), f"{where}: optional but not a union"
                assert field["type"][0] == "null" and len(field["type"]) == 2, where
                assert "default" in field and field["default"] is None, where
                assert info.is_required() is False, where
                self.value(inner, field["type"][1], where)
            else:
                assert not isinstance(field["type"], list), f"{where}: union but not optional"
                self.value(inner, field["type"], where)
            if "default" in field and not optional:
                assert not info.is_required(), f"{where}: Avro default on a required field"

    def value(self, annotation: Any, avro_type: Any, path: str) -> None:
        annotation = _unwrap(annotation)
        optional, _ = _split_optional(annotation)
        assert not optional, f"{path}: nested optional"
        if get_origin(annotation) is list:
            (item,) = get_args(annotation)
            assert isinstance(avro_type, dict) and avro_type["type"] == "array", path
            self.value(item, avro_type["items"], f"{path}[]")
            return
        assert isinstance(annotation, type), f"{path}: {annotation!r}"
        if issubclass(annotation, BaseModel):
            self.record(annotation, avro_type, path)
        elif issubclass(annotation, StrEnum):
            if isinstance(avro_type, str):
                assert avro_type == f"{NAMESPACE}.{annotation.__name__}", path
                avro_type = self._resolve(avro_type)
            else:
                assert avro_type["type"] == "enum", path
                assert avro_type["name"] == annotation.__name__, path
                self._define(avro_type, path)
            assert avro_type["symbols"] == [m.value for m in annotation], f"{path}: symbols"
        elif annotation is bool:
            assert avro_type == "boolean", path
        elif annotation is int:
            assert avro_type == "int", path
        elif annotation is float:
            assert avro_type == "double", path
        elif annotation is str:
            assert avro_type == "string", path
        elif annotation is datetime:
            assert avro_type == {"type": "long", "logicalType": "timestamp-millis"}, path
        elif annotation is date:
            assert avro_type == {"type": "int", "logicalType": "date"}, path
        elif annotation is Decimal:
            assert avro_type == {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": 14,
                "scale": 2,
            }, path
        elif annotation is uuid.UUID:
            assert avro_type == {"type": "string", "logicalType": "uuid"}, path
        else:
            raise AssertionError(f"{path}: no expected Avro type for {annotation!r}")


def walk(model: type[BaseModel], schema: dict[str, Any]) -> None:
    assert schema["namespace"] == NAMESPACE
    Walker().record(model, schema, model.__name__)


def iter_named(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum definition in schema, recursively."""
    found: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum"):
                found.append(node)
            if node.get("type") == "record":
                for field in node["fields"]:
                    visit(field["type"])
            elif node.get("type") == "array":
                visit(node["items"])

    visit(schema)
    return found


def iter_fields(schema: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{record['name']}.{field['name']}", field)
        for record in iter_named(schema)
        if record["type"] == "record"
        for field in record["fields"]
    ]


def iter_types(node: Any) -> list[Any]:
    """Every type node of a schema (dicts and strings), recursively."""
    found: list[Any] = []
    if isinstance(node, list):
        for item in node:
            found += iter_types(item)
    elif isinstance(node, dict):
        found.append(node)
        if node.get("type") == "record":
            for field in node["fields"]:
                found += iter_types(field["type"])
        elif node.get("type") == "array":
            found += iter_types(node["items"])
    else:
        found.append(node)
    return found


# ---------------------------------------------------------------------------- tests


def test_every_kind_has_a_committed_schema() -> None:
    folders = sorted(p.name for p in SCHEMAS_DIR.iterdir() if p.is_dir())
    assert folders == sorted(KINDS)
    assert SCHEMAS_DIR == ROOT / "schemas"
    for kind in KINDS.values():
        assert schema_versions(kind) == list(range(1, kind.version + 1))
        assert kind.schema_file().is_file()


@pytest.mark.parametrize("name", KIND_NAMES)
def test_committed_schema_equals_the_generated_one(name: str) -> None:
    kind = KINDS[name]
    assert committed_schema(kind) == kind.schema()
    # ... byte for byte as `hub schemas generate` writes it.
    text = json.dumps(kind.schema(), ensure_ascii=False, indent=2) + "\n"
    assert kind.schema_file().read_text(encoding="utf-8") == text


@pytest.mark.parametrize("name", KIND_NAMES)
def test_committed_schema_matches_the_model_field_by_field(name: str) -> None:
    kind = KINDS[name]
    walk(kind.model, committed_schema(kind))
    walk(kind.model, kind.schema())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["fields"].pop(),
        lambda s: s["fields"].insert(0, s["fields"].pop(1)),
        lambda s: s["fields"][0].update(name="source"),
        lambda s: s["fields"][0].update(type=["null", "string"], default=None),
        lambda s: s["fields"][3].update(type={"type": "long", "logicalType": "timestamp-micros"}),
        lambda s: next(f for f in s["fields"] if f["name"] == "status")["type"]["symbols"].pop(),
        lambda s: next(f for f in s["fields"] if f["name"] == "status")["type"]["symbols"].sort(),
        lambda s: next(f for f in s["fields"] if f["name"] == "decision")["type"][1][
            "fields"
        ].pop(),
        lambda s: next(f for f in s["fields"] if f["name"] == "decision")["type"][1]["fields"][2][
            "type"
        ][1].update(scale=3),
        lambda s: next(f for f in s["fields"] if f["name"] == "officers")["type"].update(
            type="map", values="string"
        ),
        lambda s: s.update(namespace="cn.wuchang.other"),
    ],
)
def test_the_field_by_field_walk_detects_drift(mutate: Any) -> None:
    schema = copy.deepcopy(KINDS["case"].schema())
    mutate(schema)
    with pytest.raises((AssertionError, KeyError, TypeError)):
        walk(KINDS["case"].model, schema)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_field_has_a_chinese_and_english_doc(name: str) -> None:
    schema = committed_schema(KINDS[name])
    fields = iter_fields(schema)
    assert len(fields) >= len(KINDS[name].model.model_fields)
    for path, field in fields:
        doc = field.get("doc")
        assert isinstance(doc, str) and doc.strip(), path
        assert CJK.search(doc), f"{path}: doc without Chinese: {doc!r}"
        assert ASCII_LETTER.search(doc), f"{path}: doc without English: {doc!r}"
    for named in iter_named(schema):
        assert CJK.search(named["doc"]) and ASCII_LETTER.search(named["doc"]), named["name"]


def test_nested_records_are_walked_for_docs() -> None:
    paths = {path for path, _ in iter_fields(committed_schema(KINDS["case"]))}
    assert {"CaseParty.id_number", "Officer.certificate_no", "Decision.amount"} <= paths
    paths = {path for path, _ in iter_fields(committed_schema(KINDS["order"]))}
    assert {"Location.latitude", "ReferralDetail.evidence", "AssistanceDetail.kind"} <= paths


@pytest.mark.parametrize("name", KIND_NAMES)
def test_names_and_namespace(name: str) -> None:
    kind = KINDS[name]
    schema = committed_schema(kind)
    assert NAMESPACE == "cn.wuchang.enforcement"
    assert schema["type"] == "record"
    assert schema["name"] == kind.model.__name__
    for named in iter_named(schema):
        assert named["namespace"] == "cn.wuchang.enforcement", named["name"]
    assert [f["name"] for f in schema["fields"][:7]] == [
        "source_party",
        "source_id",
        "record_id",
        "occurred_at",
        "received_at",
        "schema_version",
        "trace_id",
    ]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_timestamps_are_millis_and_money_is_decimal_scale_2(name: str) -> None:
    schema = committed_schema(KINDS[name])
    nodes = [n for n in iter_types(schema) if isinstance(n, dict)]
    longs = [n for n in nodes if n.get("type") == "long"]
    assert longs, "every record has timestamps"
    for node in longs:
        assert node.get("logicalType") == "timestamp-millis", node
    for node in nodes:
        assert node.get("logicalType") != "timestamp-micros"
        if node.get("type") == "bytes":
            assert node == {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": 14,
                "scale": 2,
            }
    for field in schema["fields"]:
        if field["name"] in ("occurred_at", "received_at"):
            assert field["type"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_money_fields_are_decimals() -> None:
    def money(name: str) -> list[str]:
        return [
            path
            for path, field in iter_fields(committed_schema(KINDS[name]))
            if any(
                isinstance(n, dict) and n.get("logicalType") == "decimal"
                for n in (field["type"] if isinstance(field["type"], list) else [field["type"]])
            )
        ]

    assert money("matter") == ["Matter.max_fine"]
    assert money("penalty") == ["PenaltyDisclosure.amount"]
    assert money("case") == ["Decision.amount"]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_schemas_parse_with_fastavro_and_apache_avro(name: str) -> None:
    schema = committed_schema(KINDS[name])
    parsed = fastavro.parse_schema(copy.deepcopy(schema))
    assert parsed["name"] == f"{NAMESPACE}.{KINDS[name].model.__name__}"
    assert avro.schema.parse(json.dumps(schema)).fullname == parsed["name"]


def test_enum_symbols_are_the_enum_values() -> None:
    schema = committed_schema(KINDS["order-event"])
    (event_type,) = [n for n in iter_named(schema) if n["name"] == "EventType"]
    assert event_type["symbols"][:3] == ["SIGNED", "REPORTED", "FEEDBACK"]
    assert len(event_type["symbols"]) == 18  # v2 added REFERRED, DECLINED, GRANTED, DENIED


def test_hub_schemas_check_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert hub.cli.main(["schemas", "check"]) == 0
    out, err = capsys.readouterr()
    for name in KINDS:
        version = KINDS[name].version
        assert re.search(rf"^ok\s+{re.escape(name)}\s+v{version} ", out, re.MULTILINE), name
    # the order went to v2 (deadline optional), then v3 (issue 16's flows): v1 and v2 data
    # stay readable (BACKWARD)
    assert re.search(r"^ok\s+order\s+v3 \(3 version\(s\), BACKWARD\)", out, re.MULTILINE)
    assert "error" not in err


def test_hub_schemas_generate_check_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    before = {k: KINDS[k].schema_file().read_bytes() for k in KINDS}
    assert hub.cli.main(["schemas", "generate", "--check"]) == 0
    out, err = capsys.readouterr()
    assert f"{len(KINDS)} schemas match their models" in out
    assert "error" not in err
    assert before == {k: KINDS[k].schema_file().read_bytes() for k in KINDS}


def test_hub_schemas_check_fails_on_drift(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub._cli_records as cli_records

    real = cli_records.committed_schema

    def drifted(kind: Kind, version: int | None = None) -> Any:
        schema = real(kind, version)
        if kind.name == "clue":
            schema["fields"] = schema["fields"][:-1]
        return schema

    monkeypatch.setattr(cli_records, "committed_schema", drifted)
    assert hub.cli.main(["schemas", "check"]) == 1
    _, err = capsys.readouterr()
    assert "clue: the model differs from schemas/clue/v1.avsc" in err
