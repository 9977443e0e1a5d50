"""The data catalogue 资源目录 (rule 四.四): the datasets the parties share through the hub,
as data (``hub/reference/datasets.yaml``), and what one reader sees of a record.

A dataset names its record kind (and so its compacted topic), its owner, its key and the
secondary keys it can be searched by, the class of each field it returns, and per kind
of party whether that party reads it whole (``full``) or with personal data masked
(``masked``); a party of any other kind may not read it. Fields not listed are not
returned (the envelope: who sent it, source ids, trace, receipt).
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub._yaml import load_model
from hub.records import KINDS, mask_citizen_id, mask_name, mask_phone
from hub.reference import Party, PartyKind


class FieldClass(StrEnum):
    PUBLIC = "public"
    PERSONAL = "personal"  # 个人信息


class Access(StrEnum):
    FULL = "full"
    MASKED = "masked"


class Dataset(BaseModel):
    """One dataset of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z-]{1,30}$")
    name: str = Field(min_length=1)
    kind: str
    owner: str
    key: str
    secondary: list[str] = Field(default_factory=list)
    fields: dict[str, FieldClass]
    readers: dict[PartyKind, Access]

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Dataset:
        if self.kind not in KINDS:
            raise ValueError(f"kind '{self.kind}' is not a record kind ({', '.join(KINDS)})")
        kind = KINDS[self.kind]
        known = set(kind.model.model_fields)
        unknown = [f for f in (*self.fields, *self.secondary, self.key) if f not in known]
        if unknown:
            raise ValueError(f"{self.kind} records have no field {', '.join(unknown)}")
        if self.key != kind.key_field:
            raise ValueError(f"key must be {kind.key_field}, the key of {kind.topic}")
        hidden = [f for f in (self.key, *self.secondary) if f not in self.fields]
        if hidden:
            raise ValueError(f"keys must be returned fields too: {', '.join(hidden)}")
        return self

    @property
    def topic(self) -> str:
        return KINDS[self.kind].topic

    def access_of(self, party: Party) -> Access | None:
        """How party reads this dataset; None: it may not (it may request it)."""
        return self.readers.get(party.kind)

    def view(self, record: dict[str, Any], access: Access) -> dict[str, Any]:
        """What a reader with access sees of record (its JSON): the listed fields, personal
        ones masked unless the access is full."""
        seen: dict[str, Any] = {}
        for name, cls in self.fields.items():
            if name not in record:
                continue
            value = record[name]
            if cls is FieldClass.PERSONAL and access is Access.MASKED:
                value = mask_personal(value)
            seen[name] = value
        return seen


class DataCatalogue(BaseModel):
    """datasets.yaml: every dataset, ids unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    datasets: list[Dataset]

    @model_validator(mode="after")
    def _unique(self) -> DataCatalogue:
        ids = [d.id for d in self.datasets]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"dataset ids used twice: {', '.join(twice)}")
        return self

    def get(self, dataset_id: str) -> Dataset | None:
        return next((d for d in self.datasets if d.id == dataset_id), None)


def load_datasets(path: Path) -> DataCatalogue:
    """Read datasets.yaml; a wrong entry raises ConfigError naming it and the rule."""
    return load_model(path, DataCatalogue)


_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9Xx]$")
_PHONE = re.compile(r"^1[0-9]{10}$")


def mask_personal(value: Any) -> Any:
    """A personal value as a reader without need sees it: an id number, a phone or a
    name masked the way the hub masks them everywhere."""
    if not isinstance(value, str) or not value:
        return value
    if _ID_NUMBER.fullmatch(value):
        return mask_citizen_id(value)
    if _PHONE.fullmatch(value):
        return mask_phone(value)
    return mask_name(value)
