"""``GET /v1/openapi.json``: the OpenAPI 3.1 document, generated from the resources'
routes (`hub.http.routes`) and models: the record models for what is posted, each
route's answer models for what comes back, the problem model for every refusal. Nothing
here describes a request or a response by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hub import __version__
from hub.http import (
    assessment,
    cases,
    inbox,
    native,
    ops,
    orders,
    records,
    session,
    shared,
    subscriptions,
    validate,
)
from hub.http.policy import ACTION_FIELDS, DERIVED_IDS, HTTP_KINDS, HUB_OWNED_FIELDS
from hub.http.problems import MEDIA_TYPE, ProblemDetails
from hub.http.routes import PLATFORM_ANSWERS, Answer, Route, install_routes
from hub.records import DATA_CATALOGUE, KINDS, MATTER_CATALOGUE, OFFICER_ROSTER
from hub.reference import Reference
from hub.settings import HubSettings
from hub.shared import load_datasets

REF = "#/components/schemas/{model}"
PROBLEM = "Problem"  # the component name of `ProblemDetails`

ROUTES = (
    Route(
        "GET", "/v1/openapi.json", "openapi", "openapi", "This document", "contract",
        (Answer(200, "OpenAPI 3.1", schema={"type": "object"}),),
        platform=(401, 429),
    ),
)


def all_routes() -> tuple[Route, ...]:
    """Every documented route of a worker's HTTP side."""
    return (
        *records.ROUTES,
        *validate.ROUTES,
        *inbox.ROUTES,
        *orders.ROUTES,
        *assessment.ROUTES,
        *cases.ROUTES,
        *shared.ROUTES,
        *subscriptions.ROUTES,
        *session.ROUTES,
        *native.ROUTES,
        *ops.ROUTES,
        *ROUTES,
        ops.HEALTH,
    )


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _components(routes: tuple[Route, ...]) -> dict[str, Any]:
    """Schemas of the record models (as posted: validation) and of the answer models (as
    answered: serialization); the hub's own fields left out of what callers post."""
    posted: list[type[BaseModel]] = [KINDS[kind].model for kind in HTTP_KINDS]
    posted += [r.body for r in routes if isinstance(r.body, type)]
    answered = {ProblemDetails} | {a.model for r in routes for a in r.answers if a.model}
    defs: dict[str, Any] = {}
    for models, mode in ((sorted(answered, key=lambda m: m.__name__), "serialization"),
                         (posted, "validation")):
        pairs: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
            (model, mode) for model in models  # type: ignore[misc]
        ]
        _, found = models_json_schema(pairs, ref_template=REF)
        defs.update(copy.deepcopy(found.get("$defs", {})))
    for kind in HTTP_KINDS:
        name = KINDS[kind].model.__name__
        for field in (*HUB_OWNED_FIELDS, DERIVED_IDS.get(name)):  # the hub's to fill
            defs[name]["properties"].pop(field, None)
            if field in defs[name].get("required", []):
                defs[name]["required"].remove(field)
    # an action on an order is an OrderEvent without what the hub fills (order, party, ids)
    event = defs[KINDS["order-event"].model.__name__]
    action = {
        "type": "object",
        "required": ["event_type"],
        "additionalProperties": False,
        "properties": {name: copy.deepcopy(event["properties"][name]) for name in ACTION_FIELDS},
        "allOf": copy.deepcopy(event.get("allOf", [])),
    }
    action["properties"]["source_id"]["description"] = (
        "your id of this action; re-sending it is applied once (default: one the hub makes)"
    )
    defs["OrderAction"] = action
    defs[PROBLEM] = defs.pop(ProblemDetails.__name__)
    renamed: dict[str, Any] = _renamed(defs, ProblemDetails.__name__, PROBLEM)
    return renamed


def _renamed(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (REF.format(model=new) if k == "$ref" and v == REF.format(model=old)
                else _renamed(v, old, new))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renamed(v, old, new) for v in node]
    return node


def _content(answer: Answer) -> dict[str, Any] | None:
    if answer.model is not None:
        return {answer.media: {"schema": _ref(answer.model.__name__)}}
    if answer.schema is not None:
        return {answer.media: {"schema": answer.schema}}
    if answer.status >= 400:
        return {MEDIA_TYPE: {"schema": _ref(PROBLEM)}}
    return None


def _operation(route: Route) -> dict[str, Any]:
    answers = {answer.status: answer for answer in route.answers}
    if not route.public:
        for status in route.platform:
            answers.setdefault(status, Answer(status, PLATFORM_ANSWERS[status]))
    responses: dict[str, Any] = {}
    for status in sorted(answers):
        answer = answers[status]
        responses[str(status)] = {"description": answer.description}
        content = _content(answer)
        if content is not None:
            responses[str(status)]["content"] = content
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    if route.description:
        operation["description"] = route.description
    if route.params:
        operation["parameters"] = [param.spec() for param in route.params]
    if route.body is not None:
        body = route.body
        schema = (
            _ref(body.__name__) if isinstance(body, type)
            else _ref(body) if isinstance(body, str) else body
        )
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": schema}}
        }
    operation["responses"] = responses
    if route.public:
        operation["security"] = []
    return operation


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    routes = all_routes()
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wuchang enforcement exchange hub gateway 武昌区综合执法数据交换枢纽",
            "version": __version__,
            "description": "Publish canonical records, read your inbox. Errors are RFC 9457 "
            "problem details with field paths and Chinese and English messages.",
        },
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _components(routes),
        },
        "paths": paths,
    }


def _name_codes(node: Any, codes: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        for marker, known in codes.items():
            if node.pop(marker, False) and known:
                node["enum"] = known
        for value in node.values():
            _name_codes(value, codes)
    elif isinstance(node, list):
        for value in node:
            _name_codes(value, codes)


@lru_cache(maxsize=4)
def _with_codes(matters: tuple[str, ...], officers: tuple[str, ...],
                datasets: tuple[str, ...] = ()) -> dict[str, Any]:
    named = copy.deepcopy(_document())
    _name_codes(named, {MATTER_CATALOGUE: list(matters), OFFICER_ROSTER: list(officers),
                        DATA_CATALOGUE: list(datasets)})
    return named


def document(
    settings: HubSettings | None = None, reference: Reference | None = None
) -> dict[str, Any]:
    """The OpenAPI document. Given the worker's reference data, matter codes and officer
    certificates are those of its current catalogue and roster (officers who may act
    today), what validation accepts; without it, or while they are empty, their pattern
    only. Given the settings, dataset ids are those of its data catalogue."""
    datasets = _datasets(settings.datasets_file) if settings is not None else ()
    if reference is None:
        return _with_codes((), (), datasets)
    today = date.today()
    return _with_codes(
        tuple(sorted(reference.matters)),
        tuple(sorted(n for n, officer in reference.officers.items() if officer.usable_on(today))),
        datasets,
    )


@lru_cache(maxsize=4)
def _datasets(path: Path) -> tuple[str, ...]:
    """The dataset ids of the data catalogue at path (validated when the worker started)."""
    return tuple(sorted(d.id for d in load_datasets(path).datasets))


class OpenApi:
    """Serves the document, with the worker's current reference data."""

    def __init__(self, settings: HubSettings, reference: Callable[[], Reference]) -> None:
        self.settings = settings
        self.reference = reference

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(document(self.settings, self.reference()))
