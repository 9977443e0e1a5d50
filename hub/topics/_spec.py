"""Topic declarations (``topics/*.yaml``): the model, the loader and per-party expansion.

A file holds a ``topics:`` list. Each entry is one topic, or a per-party template when
its name contains ``{party}`` and it says ``for_parties: all | inbox``; templates expand
over the parties reference file, so ``raw.<party>.v1`` and ``out.<party>.v1`` are never
written out by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.errors import TopicSpecError
from hub.reference import Registry

_NAME_RULE = re.compile(r"^[A-Za-z0-9._-]+$")
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# Keys the declaration sets through its own fields; `configs` may not set them again.
_OWN_KEYS = {"cleanup.policy", "retention.ms", "min.insync.replicas"}


def parse_retention(value: str | int) -> int:
    """Retention in ms from ``7d``, ``12h``, ``30m``, ``45s``, ``500ms``, ``forever`` or an int."""
    if isinstance(value, bool):
        raise ValueError("retention must be a duration such as 7d, not a boolean")
    if isinstance(value, int):
        if value < -1 or value == 0:
            raise ValueError("retention in ms must be positive, or -1 for forever")
        return value
    text = value.strip().lower()
    if text in {"forever", "infinite", "-1"}:
        return -1
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"retention '{value}' is not a duration such as 7d, 12h, 30m or forever")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


class TopicDecl(BaseModel):
    """One declared topic (or per-party template) as written in ``topics/*.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Topic name; '{party}' makes it a per-party template.")
    doc: str = Field(min_length=1, description="What flows here (Chinese term and English).")
    partitions: int = Field(ge=1, le=1000, description="Partition count.")
    replication_factor: int = Field(default=3, ge=1, le=7, description="Replicas per partition.")
    min_insync_replicas: int = Field(default=2, ge=1, le=7, description="min.insync.replicas.")
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = Field(
        default="delete", description="cleanup.policy."
    )
    retention_ms: int = Field(
        default=7 * 86_400_000, alias="retention", description="Retention (7d, 12h, forever)."
    )
    value_subject: str | None = Field(
        default=None, description="Schema-registry subject of the values (None: raw bytes)."
    )
    key: str | None = Field(default=None, description="What the record key is (documentation).")
    role: Literal["raw", "inbox", "dlq", "audit", "connector-state", "schemas"] | None = Field(
        default=None, description="What the hub uses the topic for (`hub.wire` names it so)."
    )
    copartition: str | None = Field(
        default=None, description="Topics naming the same group must have equal partition counts."
    )
    for_parties: Literal["all", "inbox"] | None = Field(
        default=None, description="For templates: every party, or parties with an inbox."
    )
    keep_more_partitions: bool = Field(
        default=False,
        description="An existing topic with more partitions than declared keeps them (apply "
        "warns) instead of refusing the plan: for topics whose partition count neither "
        "state nor co-partitioning depends on.",
    )
    configs: dict[str, str] = Field(
        default_factory=dict, description="Further topic configs, as Kafka names them."
    )

    @field_validator("retention_ms", mode="before")
    @classmethod
    def _retention(cls, value: object) -> int:
        if not isinstance(value, str | int):
            raise ValueError("retention must be a duration such as 7d or forever")
        return parse_retention(value)

    @field_validator("configs", mode="before")
    @classmethod
    def _configs_as_strings(cls, value: object) -> object:
        if isinstance(value, dict):
            clash = sorted(_OWN_KEYS & set(value))
            if clash:
                raise ValueError(f"set {clash} through the declaration's own fields, not configs")
            return {
                str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _check(self) -> TopicDecl:
        is_template = "{party}" in self.name
        if is_template and self.for_parties is None:
            raise ValueError("a name with {party} needs for_parties: all or inbox")
        if not is_template and self.for_parties is not None:
            raise ValueError("for_parties is only for names that contain {party}")
        if not _NAME_RULE.fullmatch(self.name.replace("{party}", "p")) or len(self.name) > 200:
            raise ValueError("name may hold only ASCII letters, digits, '.', '_' and '-'")
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas cannot exceed replication_factor")
        if self.keep_more_partitions and self.copartition:
            raise ValueError("a co-partitioned topic cannot keep more partitions than its group")
        return self

    def topic_configs(self) -> dict[str, str]:
        """Every topic config this declaration manages, as Kafka names and strings."""
        return {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(self.min_insync_replicas),
            **self.configs,
        }


class TopicSpec(BaseModel):
    """A concrete topic after template expansion: what `hub topics apply` makes true."""

    model_config = ConfigDict(frozen=True)

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]
    value_subject: str | None
    source: str
    keep_more_partitions: bool = False

    @property
    def min_insync_replicas(self) -> int:
        return int(self.configs["min.insync.replicas"])


class _TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topics: list[TopicDecl]


def _describe(exc: ValidationError, topics: list[object]) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = ".".join(str(part) for part in loc) or "top level"
        if len(loc) >= 2 and loc[0] == "topics" and isinstance(loc[1], int):
            entry = topics[loc[1]] if loc[1] < len(topics) else None
            if isinstance(entry, dict) and "name" in entry:
                where = f"topics[{loc[1]}] ({entry['name']})" + "".join(
                    f".{part}" for part in loc[2:]
                )
        lines.append(f"{where}: {error['msg']}")
    return lines


def load_declarations(folder: Path) -> list[tuple[Path, TopicDecl]]:
    """Read every ``*.yaml`` in folder; `TopicSpecError` names file, entry and rule."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise TopicSpecError(f"{folder}: no topic declarations (*.yaml) found")
    declarations: list[tuple[Path, TopicDecl]] = []
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TopicSpecError(f"{path}: not valid YAML: {exc}") from None
        except OSError as exc:
            raise TopicSpecError(f"{path}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise TopicSpecError(f"{path}: not UTF-8 text; save it as UTF-8") from None
        if not isinstance(document, dict):
            raise TopicSpecError(f"{path}: top level must be a mapping with a 'topics' list")
        try:
            parsed = _TopicsFile.model_validate(document)
        except ValidationError as exc:
            entries = document.get("topics")
            raw: list[object] = entries if isinstance(entries, list) else []
            raise TopicSpecError(
                f"{path}: invalid topic declaration:\n  " + "\n  ".join(_describe(exc, raw))
            ) from None
        declarations.extend((path, decl) for decl in parsed.topics)
    return declarations


def expand(declarations: list[tuple[Path, TopicDecl]], parties: Registry) -> list[TopicSpec]:
    """Concrete topics, per-party templates expanded; checks names and co-partitioning."""
    specs: dict[str, TopicSpec] = {}
    groups: dict[str, list[tuple[Path, TopicSpec]]] = {}
    for path, decl in declarations:
        if decl.for_parties is None:
            names = [decl.name]
        else:
            targets = parties.with_inbox() if decl.for_parties == "inbox" else list(parties)
            names = [decl.name.replace("{party}", party.id) for party in targets]
        for name in names:
            if name in specs:
                raise TopicSpecError(
                    f"{path}: topic '{name}' is also declared in {specs[name].source}"
                )
            spec = TopicSpec(
                name=name,
                partitions=decl.partitions,
                replication_factor=decl.replication_factor,
                configs=decl.topic_configs(),
                value_subject=decl.value_subject,
                source=path.name,
                keep_more_partitions=decl.keep_more_partitions,
            )
            specs[name] = spec
            if decl.copartition:
                groups.setdefault(decl.copartition, []).append((path, spec))
    for group, members in groups.items():
        counts = {spec.name: spec.partitions for _, spec in members}
        if len(set(counts.values())) > 1:
            files = ", ".join(sorted({str(path) for path, _ in members}))
            raise TopicSpecError(
                f"{files}: co-partitioned group '{group}' needs equal partition counts, "
                f"found {counts}"
            )
    return list(specs.values())


def load_topics(folder: Path, parties: Registry) -> list[TopicSpec]:
    """Load, validate and expand every declaration in folder."""
    return expand(load_declarations(folder), parties)
