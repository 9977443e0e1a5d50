"""A client for any Confluent-compatible schema registry, with caching.

Works against Confluent Schema Registry, Karapace, Apicurio's ccompat API and the
hub's embedded registry. Schemas by id never change, so they are cached forever;
ids of registered (subject, schema) pairs likewise.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub.errors import SchemaIncompatible, SchemaRegistryError
from hub.registry._compat import canonical

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryClient:
    """Async client; pass an `aiohttp.ClientSession` to share one (it is not closed here).

    auth is a (user, password) pair sent with HTTP Basic auth.
    """

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
        if auth is not None:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(
                method,
                f"{self.url}{path}",
                data=None if body is None else json.dumps(body),
                headers=self._headers,
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SchemaRegistryError(
                f"schema registry at {self.url} unreachable: {exc!r}", status=503, error_code=50003
            ) from None
        try:
            payload = json.loads(text) if text else None
        except json.JSONDecodeError:
            payload = None
        if status >= 400:
            message = payload.get("message") if isinstance(payload, dict) else text[:200]
            code = payload.get("error_code", status) if isinstance(payload, dict) else status
            if status == 409:
                raise SchemaIncompatible(str(message), [str(message)])
            raise SchemaRegistryError(
                f"{method} {path}: {status} {message}", status=status, error_code=int(code)
            )
        return payload

    async def schema_by_id(self, schema_id: int) -> str:
        """The schema text with this id (cached)."""
        if schema_id not in self._schemas:
            payload = await self._request("GET", f"/schemas/ids/{schema_id}")
            self._schemas[schema_id] = str(payload["schema"])
        return self._schemas[schema_id]

    async def register(self, subject: str, schema: str) -> int:
        """Register schema under subject (idempotent); the schema id (cached)."""
        key = (subject, canonical(schema))
        if key not in self._ids:
            payload = await self._request(
                "POST", f"/subjects/{subject}/versions", {"schema": schema}
            )
            self._ids[key] = int(payload["id"])
            self._schemas.setdefault(self._ids[key], schema)
        return self._ids[key]

    async def lookup(self, subject: str, schema: str) -> dict[str, Any]:
        """subject, version, id and schema of an already registered schema."""
        payload = await self._request("POST", f"/subjects/{subject}", {"schema": schema})
        return dict(payload)

    async def subjects(self) -> list[str]:
        return list(await self._request("GET", "/subjects"))

    async def versions(self, subject: str) -> list[int]:
        return list(await self._request("GET", f"/subjects/{subject}/versions"))

    async def version(self, subject: str, version: int | str = "latest") -> dict[str, Any]:
        """subject, version, id and schema of one version (or the latest)."""
        return dict(await self._request("GET", f"/subjects/{subject}/versions/{version}"))

    async def compatibility(self, subject: str, schema: str) -> tuple[bool, list[str]]:
        """Whether schema may be registered under subject, and the reasons if not."""
        payload = await self._request(
            "POST",
            f"/compatibility/subjects/{subject}/versions/latest?verbose=true",
            {"schema": schema},
        )
        return bool(payload["is_compatible"]), list(payload.get("messages") or [])

    async def get_level(self, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{subject}?defaultToGlobal=true"
        return str((await self._request("GET", path))["compatibilityLevel"])

    async def set_level(self, level: str, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{subject}"
        return str((await self._request("PUT", path, {"compatibility": level}))["compatibility"])
