"""`LocalRegistryClient`: the `RegistryClient` interface over an in-process `EmbeddedRegistry`.

A worker's own serde and the CLI (when no external registry is configured) use it, so
they need no HTTP round trip to reach the embedded registry.
"""

from __future__ import annotations

from typing import Any

from hub.errors import SchemaRegistryError
from hub.registry._embedded import EmbeddedRegistry


class LocalRegistryClient:
    """Same calls as `RegistryClient`, answered by an embedded registry."""

    def __init__(self, registry: EmbeddedRegistry) -> None:
        self.registry = registry
        self.url = "embedded"

    async def close(self) -> None:
        """Nothing to close: the embedded registry's owner stops it."""

    async def schema_by_id(self, schema_id: int) -> str:
        await self.registry.ensure_started()
        schema = await self.registry.schema_by_id(schema_id)
        if schema is None:
            raise SchemaRegistryError("Schema not found", status=404, error_code=40403)
        return schema

    async def register(self, subject: str, schema: str) -> int:
        await self.registry.ensure_started()
        return (await self.registry.register(subject, schema)).id

    async def lookup(self, subject: str, schema: str) -> dict[str, Any]:
        """subject, version, id and schema of an already registered schema (404 if not)."""
        await self.registry.catch_up()
        entry = self.registry.store.find(subject, schema)
        if entry is None:
            raise SchemaRegistryError("Schema not found", status=404, error_code=40403)
        return {
            "subject": subject,
            "version": entry.version,
            "id": entry.id,
            "schema": entry.schema,
        }

    async def subjects(self) -> list[str]:
        await self.registry.catch_up()
        return sorted(self.registry.store.subjects)

    async def version(self, subject: str, version: int | str = "latest") -> dict[str, Any]:
        await self.registry.catch_up()
        versions = self.registry.store.subjects.get(subject)
        if not versions:
            raise SchemaRegistryError(
                f"Subject '{subject}' not found.", status=404, error_code=40401
            )
        for entry in versions if version != "latest" else versions[-1:]:
            if version == "latest" or entry.version == int(version):
                return {
                    "subject": subject,
                    "version": entry.version,
                    "id": entry.id,
                    "schema": entry.schema,
                }
        raise SchemaRegistryError(f"Version {version} not found.", status=404, error_code=40402)

    async def compatibility(self, subject: str, schema: str) -> tuple[bool, list[str]]:
        reasons = await self.registry.check(subject, schema)
        return not reasons, reasons
