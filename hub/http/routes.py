"""Routes as data: what each resource serves and answers, from which the OpenAPI document
is generated (`hub.http.openapi`) and the handlers are registered.

A resource module declares ``ROUTES``: for each operation its method and documented
path, the name of its handler method, its parameters, its request body and every answer
it gives, each answer's body a pydantic model (a problem for 4xx and 5xx). Handlers
answer through `respond`, with the model the route documents, so a response shape is
written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What the platform itself may answer on any authenticated route (`hub.http.platform`).
PLATFORM_ANSWERS = {
    401: "missing, invalid or revoked token; bad, stale or replayed signature",
    403: "the party may not do this",
    429: "rate limit; see Retry-After",
    503: "Kafka unavailable or timeout; nothing written; see Retry-After",
}


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter."""

    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = False

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }
        if self.description:
            spec["description"] = self.description
        return spec


@dataclass(frozen=True)
class Answer:
    """One status a route answers: its body is model (JSON), schema (another media
    type or a free-form object), or, for 4xx and 5xx without either, a problem."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None
    media: str = "application/json"


@dataclass(frozen=True)
class Route:
    """One operation of a resource."""

    method: str
    path: str
    handler: str
    operation_id: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | str | dict[str, Any] | None = None  # model, component name, schema
    description: str | None = None
    public: bool = False  # no authentication (and no platform answers)
    platform: tuple[int, ...] = (401, 403, 429, 503)
    registered: str | None = None  # the path registered, when it differs (a template)


def install_routes(app: web.Application, routes: Iterable[Route], owner: object) -> None:
    """Register each route's handler (a method of owner) once per method and path."""
    seen: set[tuple[str, str]] = set()
    for route in routes:
        path = route.registered or route.path
        if (route.method, path) in seen:
            continue
        seen.add((route.method, path))
        app.router.add_route(route.method, path, getattr(owner, route.handler))


def respond(answer: BaseModel, status: int = 200) -> web.Response:
    """The JSON response of a documented answer model (fields left unset are left out)."""
    body = answer.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return web.json_response(body, status=status)
