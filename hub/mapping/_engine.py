"""Declarative mappings between a party's native records and the hub's canonical ones.

A mapping spec is data (one YAML file per native record kind): which canonical kind it
becomes or comes from, and one rule per target field. The same rule grammar serves both
directions:

- ``in`` (native → canonical): targets are dotted canonical paths (``location.address``),
  sources are native field names (often Chinese or pinyin); the result is validated by
  the canonical model afterwards.
- ``out`` (canonical → native): targets are native field names, sources are dotted paths
  of the canonical record (as JSON); the result is the party's own document.

A rule reads one value (``field``: a path or a list of paths joined by ``join``;
``const``; or ``template`` with ``{path}`` placeholders), then, in this order: ``split``
a string into a list, look it up in a ``codes`` table (unknown codes are errors, never
passed through), parse a ``date`` with the listed formats (Beijing time unless the text
carries an offset) or format one with ``date_out``, convert with ``type``, and for lists
map every item with ``each``. An absent or empty value is an error unless the rule is
``optional`` (the target is left out) or has a ``default``.

Every failure raises `MappingError` naming the rule (``field.missing``, ``code.unknown``,
``date.invalid``, ``type.invalid``, ``encoding.invalid``, ``format.invalid``), the native
field and the target, in English and Chinese: what the DLQ records and a 4xx answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub._yaml import load_model
from hub.errors import RecordError
from hub.reference import BEIJING

_MISSING: Any = object()
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class MappingError(RecordError):
    """A native record that does not map: the rule broken, the field, what to do."""

    stage = "map"

    def __init__(
        self, rule: str, field: str, target: str, message_en: str, message_zh: str
    ) -> None:
        self.rule = rule
        self.native_field = field
        self.target = target
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(f"{field} -> {target}: [{rule}] {message_en} / {message_zh}")

    @property
    def reason(self) -> str:
        return self.rule

    @property
    def field(self) -> str:
        return self.native_field


class Rule(BaseModel):
    """How one target field gets its value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | list[str] | None = Field(
        default=None, description="source path, or several joined with `join`"
    )
    const: Any = Field(default=None, description="a fixed value instead of a field")
    template: str | None = Field(
        default=None, description="text with {path} placeholders filled from the source"
    )
    join: str | None = Field(
        default=None,
        description="separator: joins the values of several `field` paths (default '-'), "
        "or the items of a list value into one text",
    )
    split: str | None = Field(default=None, description="split a text into a list at this")
    codes: str | None = Field(default=None, description="name of a code table of the spec")
    date: list[str] | None = Field(
        default=None, description="strptime formats to try when reading a date (in)"
    )
    date_out: str | None = Field(default=None, description="strftime format when writing (out)")
    type: Literal["str", "int", "float", "decimal", "bool"] | None = Field(
        default=None, description="convert the value to this type"
    )
    each: dict[str, Rule] | None = Field(
        default=None, description="for a list of objects: the rules for each item"
    )
    optional: bool = Field(default=False, description="leave the target out when absent")
    default: Any = Field(default=None, description="value when the source is absent")

    @model_validator(mode="after")
    def _one_source(self) -> Rule:
        sources = [self.field is not None, self.const is not None, self.template is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of field, const or template")
        return self

    def source_name(self) -> str:
        if isinstance(self.field, list):
            return "+".join(self.field)
        return self.field or self.template or "(const)"


class MappingSpec(BaseModel):
    """One native record kind of one party kind, and how it maps (the YAML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    native_kind: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,40}$",
        description="name of the native record kind (HTTP path, raw header hub.native.kind)",
    )
    title: str = Field(description="what the native record is, in Chinese and English")
    canonical: str = Field(description="canonical kind it becomes (in) or comes from (out)")
    direction: Literal["in", "out"] = Field(description="in: native → canonical; out: reverse")
    party: str | None = Field(
        default=None,
        description="the one party using this spec (department systems); any party of the "
        "folder's kind when left out",
    )
    when: dict[str, str] = Field(
        default_factory=dict,
        description="out: only canonical records whose dotted paths have these values "
        "(e.g. order_type: CRIMINAL_REFERRAL)",
    )
    encoding: str = Field(default="utf-8", description="text encoding of the native payload")
    source_id: str | None = Field(
        default=None, description="in: the native field that becomes source_id"
    )
    fields: dict[str, Rule] = Field(description="target field → rule")
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="code tables: native code → canonical value (in) "
        "or canonical value → native code (out)",
    )

    @model_validator(mode="after")
    def _codes_exist(self) -> MappingSpec:
        def check(rules: Mapping[str, Rule], where: str) -> None:
            for target, rule in rules.items():
                if rule.codes is not None and rule.codes not in self.codes:
                    raise ValueError(f"{where}{target}: no code table '{rule.codes}'")
                if rule.each:
                    check(rule.each, f"{where}{target}[].")

        check(self.fields, "")
        if self.direction == "in" and self.source_id is None:
            raise ValueError("an inbound mapping names its source_id field")
        return self

    # ----------------------------------------------------------------- use

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether an outbound canonical record (as JSON) is one this spec renders."""
        return all(str(_get(record, path)) == value for path, value in self.when.items())

    def decode(self, payload: bytes, encoding: str | None = None) -> dict[str, Any]:
        """The native document in payload (a JSON object in the spec's encoding, or in
        encoding when the transport already converted it, e.g. file rows to UTF-8)."""
        charset = encoding or self.encoding
        try:
            text = payload.decode(charset)
        except (UnicodeDecodeError, LookupError) as exc:
            start = getattr(exc, "start", 0)
            raise MappingError(
                "encoding.invalid",
                "(payload)",
                "(record)",
                f"the payload is not {charset} text (byte {start}); send it as {charset}",
                f"报文不是{charset}编码（第{start}字节）",
            ) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MappingError(
                "format.invalid",
                "(payload)",
                "(record)",
                f"not a JSON document: {exc.msg} at line {exc.lineno}",
                "报文不是合法的JSON",
            ) from None
        if not isinstance(document, dict):
            raise MappingError(
                "format.invalid",
                "(payload)",
                "(record)",
                "send one JSON object",
                "报文应为JSON对象",
            )
        return document

    def apply(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """The target document of source; `MappingError` at the first rule that fails."""
        target: dict[str, Any] = {}
        for path, rule in self.fields.items():
            value = _evaluate(self, rule, source, path)
            if value is not _MISSING:
                _put(target, path, value)
        if self.direction == "in":
            assert self.source_id is not None  # noqa: S101 - checked by the validator
            source_id = _get(source, self.source_id)
            if source_id in (None, _MISSING, ""):
                raise MappingError(
                    "field.missing",
                    self.source_id,
                    "source_id",
                    f"the record's own id '{self.source_id}' is missing",
                    f"缺少记录编号字段“{self.source_id}”",
                )
            target["source_id"] = str(source_id)
        return target


def _get(source: Mapping[str, Any], path: str) -> Any:
    value: Any = source
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


def _evaluate(spec: MappingSpec, rule: Rule, source: Mapping[str, Any], target: str) -> Any:
    name = rule.source_name()
    value: Any
    if rule.const is not None:
        return rule.const
    if rule.template is not None:
        missing = [p for p in _PLACEHOLDER.findall(rule.template) if _empty(_get(source, p))]
        if missing and not rule.optional:
            raise _missing(missing[0], target)
        if missing:
            return _MISSING
        return _PLACEHOLDER.sub(lambda m: str(_get(source, m.group(1))), rule.template)
    if isinstance(rule.field, list):
        parts = [_get(source, p) for p in rule.field]
        absent = [p for p, v in zip(rule.field, parts, strict=True) if _empty(v)]
        separator = "-" if rule.join is None else rule.join
        value = _MISSING if absent else separator.join(str(v).strip() for v in parts)
        name = absent[0] if absent else name
    else:
        assert rule.field is not None  # noqa: S101 - one source is set (validator)
        value = _get(source, rule.field)
    if _empty(value):
        if rule.default is not None:
            return rule.default
        if rule.optional:
            return _MISSING
        raise _missing(name, target)
    if rule.join is not None and isinstance(value, list) and not isinstance(rule.field, list):
        value = rule.join.join(str(item) for item in value)
    if rule.split is not None and isinstance(value, str):
        value = [item.strip() for item in value.split(rule.split) if item.strip()]
    if rule.codes is not None:
        value = _code(spec, rule.codes, value, name, target)
    if rule.date is not None:
        value = _parse_date(value, rule.date, name, target)
    if rule.date_out is not None:
        value = _format_date(value, rule.date_out, name, target)
    if rule.type is not None:
        value = _convert(value, rule.type, name, target)
    if rule.each is not None:
        if not isinstance(value, list):
            raise MappingError("type.invalid", name, target, "expected a list", f"“{name}”应为列表")
        value = [_apply_each(spec, rule.each, item, name, target) for item in value]
    return value


def _apply_each(
    spec: MappingSpec, rules: dict[str, Rule], item: Any, name: str, target: str
) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise MappingError(
            "type.invalid", name, target, "expected objects", f"“{name}”应为对象列表"
        )
    result: dict[str, Any] = {}
    for path, rule in rules.items():
        value = _evaluate(spec, rule, item, f"{target}[].{path}")
        if value is not _MISSING:
            _put(result, path, value)
    return result


def _missing(name: str, target: str) -> MappingError:
    return MappingError(
        "field.missing",
        name,
        target,
        f"'{name}' is missing or empty; it is needed for {target}",
        f"缺少字段“{name}”或其为空",
    )


def _code(spec: MappingSpec, table: str, value: Any, name: str, target: str) -> Any:
    codes = spec.codes[table]
    if isinstance(value, list):
        return [_code(spec, table, item, name, target) for item in value]
    key = str(value).strip()
    if key not in codes:
        known = ", ".join(list(codes)[:8])
        raise MappingError(
            "code.unknown",
            name,
            target,
            f"'{key}' is not in the code table {table} (known: {known}…)",
            f"“{key}”不在代码表{table}中",
        )
    return codes[key]


_COMPACT = re.compile(r"%[YmdHMS]%[YmdHMS]")


def _parse_date(value: Any, formats: list[str], name: str, target: str) -> str:
    text = str(value).strip()
    for pattern in formats:
        try:
            moment = datetime.strptime(text, pattern)  # noqa: DTZ007 - zone added below
        except ValueError:
            continue
        if _COMPACT.search(pattern) and moment.strftime(pattern) != text:
            continue  # strptime takes "202611250930" for %Y%m%d%H%M%S: digits must all be there
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BEIJING)
        return moment.isoformat()
    raise MappingError(
        "date.invalid",
        name,
        target,
        f"'{text}' is not a date in any of the formats {', '.join(formats)}",
        f"“{text}”不是有效日期",
    )


def _format_date(value: Any, pattern: str, name: str, target: str) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(
            "date.invalid", name, target, f"'{value}' is not a timestamp", f"“{value}”不是时间"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(BEIJING)
    return moment.strftime(pattern)


def _convert(value: Any, kind: str, name: str, target: str) -> Any:
    try:
        if kind == "str":
            return str(value)
        if kind == "int":
            return int(str(value).strip())
        if kind == "float":
            return float(str(value).strip())
        if kind == "decimal":
            return str(Decimal(str(value).strip()))
        if kind == "bool":
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y", "是", "有"):
                return True
            if text in ("0", "false", "no", "n", "否", "无"):
                return False
            raise ValueError(text)
    except (ValueError, InvalidOperation):
        pass
    raise MappingError(
        "type.invalid",
        name,
        target,
        f"'{value}' is not a valid {kind}",
        f"“{value}”不是有效的{kind}",
    )
    return value  # pragma: no cover - unreachable, keeps mypy calm


def load_spec(path: Path) -> MappingSpec:
    """Read one mapping spec; ConfigError naming the file and the entry when wrong."""
    return load_model(path, MappingSpec)
