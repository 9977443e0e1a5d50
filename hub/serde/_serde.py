"""`AvroSerde`: canonical models <-> Confluent-framed Avro bytes, schemas cached."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from typing import Any

import fastavro
from pydantic import BaseModel, ValidationError

from hub.errors import DecodeError, RecordInvalid, SchemaRegistryError
from hub.records import KINDS, Kind, field_errors, kind_of, to_avro
from hub.reference import Reference
from hub.registry import LocalRegistryClient, MemoryRegistry, RegistryClient

MAGIC = 0
_HEADER = struct.Struct(">bI")
# Records this process encoded for its own stages to read back (`AvroSerde.encode_with`,
# keep=True): at most this many, the oldest forgotten first.
KEPT = 8192


def pack(schema_id: int, payload: bytes) -> bytes:
    """Frame Avro bytes in the Confluent wire format."""
    return _HEADER.pack(MAGIC, schema_id) + payload


def unpack(data: bytes) -> tuple[int, bytes]:
    """(schema id, Avro bytes) of a framed message; `DecodeError` when not framed."""
    if len(data) < _HEADER.size:
        raise DecodeError(f"{len(data)} bytes is too short for the Confluent wire format", data)
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise DecodeError(f"magic byte {magic} is not 0 (not Confluent wire format)", data)
    return schema_id, data[_HEADER.size :]


class AvroSerde:
    """Encodes and decodes canonical records through a schema registry.

    A record is validated once, where it enters the hub (the gateway, the normalise
    stage, a stage that makes it). What this process encodes for a canonical topic its
    own stages read (an order the normalise stage routes, one the gateway accepts) is
    kept, by its exact bytes, until they read it back: `decode` of those bytes returns
    the record as made, instead of decoding and validating the hub's own writing as if
    a stranger sent it. Bytes are bytes: the same bytes decode to the same record, so
    only the work is saved, never a check of anything this process did not write."""

    def __init__(self, registry: RegistryClient | LocalRegistryClient | MemoryRegistry) -> None:
        self.registry = registry
        self._writers: dict[str, tuple[int, Any]] = {}
        self._parsed_by_id: dict[int, Any] = {}
        self._readers: dict[str, Any] = {}
        # (writer schema id, kind) -> the reader schema to resolve into, or None when the
        # writer schema is the kind's current one (fastavro then reads without resolving)
        self._resolution: dict[tuple[int, str], Any] = {}
        self._registering: dict[str, asyncio.Lock] = {}
        self._kept: dict[bytes, BaseModel] = {}  # encoded bytes -> the record, oldest first

    def _reader(self, kind: Kind) -> Any:
        if kind.name not in self._readers:
            self._readers[kind.name] = fastavro.parse_schema(kind.schema())
        return self._readers[kind.name]

    async def writer(self, kind: Kind) -> tuple[int, Any]:
        """(schema id, parsed schema) for writing kind; registers the schema once, also
        when many requests of a cold worker want it at the same moment (they wait for
        the first one instead of each registering again)."""
        found = self._writers.get(kind.name)
        if found is not None:
            return found
        async with self._registering.setdefault(kind.name, asyncio.Lock()):
            if kind.name not in self._writers:
                schema = kind.schema()
                schema_id = await self.registry.register(
                    kind.subject, json.dumps(schema, ensure_ascii=False)
                )
                self._writers[kind.name] = (schema_id, fastavro.parse_schema(schema))
        return self._writers[kind.name]

    async def prepare(self) -> None:
        """Register (or find) every kind's current schema now, so that records never
        wait on a registry write (`SchemaRegistryError` when the registry cannot)."""
        for kind in KINDS.values():
            await self.writer(kind)

    def encode_with(
        self, writer: tuple[int, Any], record: BaseModel, keep: bool = False
    ) -> bytes:
        """Encode with an already resolved writer (no I/O): the hot path. keep: a stage
        of this process reads the record back (class docstring)."""
        schema_id, parsed = writer
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(MAGIC, schema_id))
        fastavro.schemaless_writer(buffer, parsed, to_avro(record))
        value = buffer.getvalue()
        if keep:
            kept = self._kept
            kept[value] = record
            if len(kept) > KEPT:
                del kept[next(iter(kept))]
        return value

    async def encode(self, kind: str | Kind, record: BaseModel, keep: bool = False) -> bytes:
        """Confluent-framed Avro bytes of record (keep: as `encode_with`)."""
        kind = kind if isinstance(kind, Kind) else kind_of(kind)
        return self.encode_with(await self.writer(kind), record, keep)

    async def _writer_schema(self, schema_id: int, raw: bytes) -> Any:
        if schema_id not in self._parsed_by_id:
            try:
                text = await self.registry.schema_by_id(schema_id)
            except SchemaRegistryError as exc:
                if exc.retriable:
                    raise
                raise DecodeError(
                    f"schema id {schema_id} is unknown to the registry", raw, schema_id=schema_id
                ) from None
            self._parsed_by_id[schema_id] = fastavro.parse_schema(json.loads(text))
        return self._parsed_by_id[schema_id]

    async def decode_datum(self, kind: str | Kind, data: bytes) -> dict[str, Any]:
        """The Avro datum of framed bytes, read into kind's current schema."""
        kind = kind if isinstance(kind, Kind) else kind_of(kind)
        schema_id, payload = unpack(data)
        writer = await self._writer_schema(schema_id, data)
        resolution = (schema_id, kind.name)
        if resolution not in self._resolution:
            reader = self._reader(kind)
            self._resolution[resolution] = None if reader == writer else reader
        try:
            datum = fastavro.schemaless_reader(
                io.BytesIO(payload), writer, self._resolution[resolution]
            )
        except Exception as exc:  # noqa: BLE001 - fastavro raises many kinds on bad bytes
            raise DecodeError(
                f"Avro bytes do not match schema id {schema_id} as {kind.name}: {exc!r}",
                data,
                schema_id=schema_id,
            ) from None
        if not isinstance(datum, dict):
            raise DecodeError(
                f"schema id {schema_id} is not a record schema", data, schema_id=schema_id
            )
        return datum

    async def decode_any(self, data: bytes) -> dict[str, Any]:
        """The datum of framed bytes as its writer schema reads it (any subject): for
        tools that show records of any topic (``hub tail``, ``hub dlq show``)."""
        schema_id, payload = unpack(data)
        writer = await self._writer_schema(schema_id, data)
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(payload), writer, None)
        except Exception as exc:  # noqa: BLE001 - fastavro raises many kinds on bad bytes
            raise DecodeError(
                f"Avro bytes do not match schema id {schema_id}: {exc!r}", data, schema_id=schema_id
            ) from None
        if not isinstance(datum, dict):
            raise DecodeError(f"schema id {schema_id} is not a record", data, schema_id=schema_id)
        return datum

    async def decode(
        self, kind: str | Kind, data: bytes, reference: Reference | None = None
    ) -> BaseModel:
        """The model of framed bytes; `DecodeError` or `RecordInvalid` when unusable.
        Bytes this process encoded to be read back give the record they were made from
        (once: read again, they are decoded)."""
        kind = kind if isinstance(kind, Kind) else kind_of(kind)
        known = self._kept.pop(data, None)
        if known is not None and type(known) is kind.model:
            return known
        datum = await self.decode_datum(kind, data)
        try:
            return kind.model.model_validate(datum, context={"reference": reference})
        except ValidationError as exc:
            raise RecordInvalid(kind.name, field_errors(exc)) from None
