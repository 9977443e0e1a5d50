"""Avro schemas generated from the canonical models, and conversion between the two.

Mapping: str -> string, int -> int, float -> double, bool -> boolean, datetime ->
long/timestamp-millis, date -> int/date, Decimal -> bytes/decimal(14,2), UUID ->
string/uuid, StrEnum -> enum, model -> record, list -> array, ``X | None`` ->
``["null", X]`` with default null. Every field's ``doc`` is the model field's
description (Chinese term and English); a field without one is a programming error.
"""

from __future__ import annotations

import types
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

NAMESPACE = "cn.wuchang.enforcement"
MONEY_PRECISION = 14
MONEY_SCALE = 2


def _doc(cls: type) -> str:
    text = (cls.__doc__ or "").strip().splitlines()
    if not text:
        raise TypeError(f"{cls.__name__} needs a docstring: it becomes the Avro doc")
    return text[0]


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_optional(annotation: Any) -> tuple[bool, Any]:
    annotation = _strip_annotated(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != len(get_args(annotation)) and len(members) == 1:
            return True, members[0]
        raise TypeError(f"only X | None unions map to Avro here, not {annotation}")
    return False, annotation


def _avro_type(annotation: Any, named: set[str]) -> Any:
    optional, inner = _is_optional(annotation)
    if optional:
        return ["null", _avro_type(inner, named)]
    inner = _strip_annotated(inner)
    origin = get_origin(inner)
    if origin is list:
        (item,) = get_args(inner)
        return {"type": "array", "items": _avro_type(item, named)}
    if isinstance(inner, type):
        if issubclass(inner, BaseModel):
            return _record(inner, named)
        if issubclass(inner, StrEnum):
            fullname = f"{NAMESPACE}.{inner.__name__}"
            if fullname in named:
                return fullname
            named.add(fullname)
            return {
                "type": "enum",
                "name": inner.__name__,
                "namespace": NAMESPACE,
                "doc": _doc(inner),
                "symbols": [member.value for member in inner],
            }
        if inner is bool:
            return "boolean"
        if inner is int:
            return "int"
        if inner is float:
            return "double"
        if inner is str:
            return "string"
        if inner is datetime:
            return {"type": "long", "logicalType": "timestamp-millis"}
        if inner is date:
            return {"type": "int", "logicalType": "date"}
        if inner is Decimal:
            return {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": MONEY_PRECISION,
                "scale": MONEY_SCALE,
            }
        if inner is uuid.UUID:
            return {"type": "string", "logicalType": "uuid"}
    raise TypeError(f"no Avro mapping for {annotation!r}")


def _default(info: FieldInfo, optional: bool) -> tuple[bool, Any]:
    """(has Avro default, value). Computed or time-dependent defaults have none."""
    if optional:
        return True, None
    if info.default_factory is list:
        return True, []
    if info.default is PydanticUndefined or info.default is None or info.default_factory:
        return False, None
    value = info.default
    if isinstance(value, StrEnum):
        return True, value.value
    if isinstance(value, bool | int | float | str):
        return True, value
    return False, None


def _record(model: type[BaseModel], named: set[str]) -> Any:
    fullname = f"{NAMESPACE}.{model.__name__}"
    if fullname in named:
        return fullname
    named.add(fullname)
    fields = []
    for name, info in model.model_fields.items():
        if not info.description:
            raise TypeError(f"{model.__name__}.{name} needs a description: it becomes the doc")
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        optional, _ = _is_optional(info.annotation)
        field: dict[str, Any] = {
            "name": name,
            "type": _avro_type(annotation, named),
            "doc": info.description,
        }
        has_default, value = _default(info, optional)
        if has_default:
            field["default"] = value
        fields.append(field)
    return {
        "type": "record",
        "name": model.__name__,
        "namespace": NAMESPACE,
        "doc": _doc(model),
        "fields": fields,
    }


def avro_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The Avro schema (as a JSON-ready dict) of a canonical model."""
    schema = _record(model, set())
    assert isinstance(schema, dict)  # noqa: S101 - a top-level record is never a reference
    return schema


def to_avro(record: BaseModel) -> dict[str, Any]:
    """The datum fastavro writes for a model instance."""
    return record.model_dump(mode="python")
