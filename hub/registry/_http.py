"""The Confluent-compatible REST API subset of the embedded registry (aiohttp).

Routes (relative to where the sub-application is mounted, ``/registry`` on a worker):
``GET /schemas/ids/{id}``, ``GET /subjects``, ``GET /subjects/{s}/versions``,
``POST /subjects/{s}/versions``, ``POST /subjects/{s}`` (look a schema up),
``GET /subjects/{s}/versions/{v|latest}``,
``POST /compatibility/subjects/{s}/versions/latest``, ``GET|PUT /config[/{s}]``.
Errors answer ``{"error_code", "message"}`` as Confluent's registry does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.errors import SchemaIncompatible, SchemaRegistryError
from hub.registry._embedded import EmbeddedRegistry
from hub.registry._store import Registered

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
REGISTRY_KEY = web.AppKey("registry", EmbeddedRegistry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type=CONTENT_TYPE.split(";")[0],
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"error_code": code, "message": message}, status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SchemaIncompatible as exc:
        return _error(409, 409, exc.message)
    except SchemaRegistryError as exc:
        return _error(exc.status, exc.error_code, exc.message)


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(login, password) of an HTTP Basic Authorization header, None when absent or bad."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _auth_middleware(users: dict[str, str]) -> Any:
    """Basic auth against sha256 password hashes; without users, loopback clients only."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not users:
            if _is_loopback(request.remote):
                return await handler(request)
            return _error(
                403,
                40301,
                "the embedded registry serves loopback clients only until "
                "HUB_REGISTRY_CREDENTIALS is set",
            )
        credentials = _basic_credentials(request.headers.get("Authorization", ""))
        if credentials is not None:
            login, password = credentials
            digest = hashlib.sha256(password.encode()).hexdigest()
            expected = users.get(login, "")
            if expected and hmac.compare_digest(digest, expected):
                return await handler(request)
        response = _error(401, 40101, "Unauthorized: give Basic credentials for the registry")
        response.headers["WWW-Authenticate"] = 'Basic realm="hub-registry"'
        return response

    return authenticate


def _registry(request: web.Request) -> EmbeddedRegistry:
    return request.app[REGISTRY_KEY]


def _entry(entry: Registered) -> dict[str, Any]:
    return {
        "subject": entry.subject,
        "version": entry.version,
        "id": entry.id,
        "schema": entry.schema,
    }


async def _schema_body(request: web.Request) -> str:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SchemaRegistryError(
            "request body is not JSON", status=422, error_code=42201
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise SchemaRegistryError("body needs a 'schema' string", status=422, error_code=42201)
    if body.get("schemaType", "AVRO") != "AVRO":
        raise SchemaRegistryError("only AVRO schemas are served", status=422, error_code=42201)
    if body.get("references"):
        raise SchemaRegistryError(
            "schema references are not supported", status=422, error_code=42201
        )
    return str(body["schema"])


async def get_schema(request: web.Request) -> web.Response:
    try:
        schema_id = int(request.match_info["id"])
    except ValueError:
        return _error(404, 40403, "Schema not found")
    schema = await _registry(request).schema_by_id(schema_id)
    if schema is None:
        return _error(404, 40403, "Schema not found")
    return _json({"schema": schema})


async def list_subjects(request: web.Request) -> web.Response:
    registry = _registry(request)
    await registry.catch_up()
    return _json(sorted(registry.store.subjects))


async def list_versions(request: web.Request) -> web.Response:
    registry = _registry(request)
    await registry.catch_up()
    versions = registry.store.subjects.get(request.match_info["subject"])
    if not versions:
        return _error(404, 40401, f"Subject '{request.match_info['subject']}' not found.")
    return _json([v.version for v in versions])


async def register(request: web.Request) -> web.Response:
    entry = await _registry(request).register(
        request.match_info["subject"], await _schema_body(request)
    )
    return _json({"id": entry.id})


async def lookup(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    registry = _registry(request)
    schema = await _schema_body(request)
    await registry.catch_up()
    if subject not in registry.store.subjects:
        return _error(404, 40401, f"Subject '{subject}' not found.")
    entry = registry.store.find(subject, schema)
    if entry is None:
        return _error(404, 40403, "Schema not found")
    return _json(_entry(entry))


async def get_version(request: web.Request) -> web.Response:
    subject, wanted = request.match_info["subject"], request.match_info["version"]
    registry = _registry(request)
    await registry.catch_up()
    versions = registry.store.subjects.get(subject)
    if not versions:
        return _error(404, 40401, f"Subject '{subject}' not found.")
    if wanted in ("latest", "-1"):
        return _json(_entry(versions[-1]))
    if not wanted.isdigit() or int(wanted) < 1:
        return _error(422, 42202, f"The specified version '{wanted}' is not a valid version id.")
    for entry in versions:
        if entry.version == int(wanted):
            return _json(_entry(entry))
    return _error(404, 40402, f"Version {wanted} not found.")


async def check_compatibility(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    reasons = await _registry(request).check(subject, await _schema_body(request))
    body: dict[str, Any] = {"is_compatible": not reasons}
    if request.query.get("verbose", "").lower() == "true":
        body["messages"] = reasons
    return _json(body)


async def get_config(request: web.Request) -> web.Response:
    registry = _registry(request)
    await registry.catch_up()
    subject = request.match_info.get("subject")
    if subject is not None and subject not in registry.store.levels:
        if request.query.get("defaultToGlobal", "").lower() != "true":
            return _error(
                404,
                40408,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
    return _json({"compatibilityLevel": registry.store.level(subject)})


async def put_config(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(422, 42203, "request body is not JSON")
    level = body.get("compatibility") if isinstance(body, dict) else None
    if not isinstance(level, str):
        return _error(422, 42203, "body needs a 'compatibility' level")
    stored = await _registry(request).set_level(request.match_info.get("subject"), level.upper())
    return _json({"compatibility": stored})


def registry_app(
    registry: EmbeddedRegistry, users: dict[str, str] | None = None
) -> web.Application:
    """The aiohttp sub-application serving registry's REST API.

    users maps user names to sha256 hex digests of their passwords (Basic auth); when
    empty, only loopback clients are served.
    """
    app = web.Application(middlewares=[_auth_middleware(users or {}), _errors])
    app[REGISTRY_KEY] = registry
    routes = app.router
    routes.add_get("/schemas/ids/{id}", get_schema)
    routes.add_get("/subjects", list_subjects)
    routes.add_get("/subjects/{subject}/versions", list_versions)
    routes.add_post("/subjects/{subject}/versions", register)
    routes.add_post("/subjects/{subject}", lookup)
    routes.add_get("/subjects/{subject}/versions/{version}", get_version)
    routes.add_post("/compatibility/subjects/{subject}/versions/latest", check_compatibility)
    routes.add_get("/config", get_config)
    routes.add_put("/config", put_config)
    routes.add_get("/config/{subject}", get_config)
    routes.add_put("/config/{subject}", put_config)
    return app
