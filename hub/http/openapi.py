"""``GET /v1/openapi.json``: the OpenAPI 3.1 document, generated from the record models
and the policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hub import __version__
from hub.dispatch import OrderState
from hub.dispatch._assessment import MEASURES as ASSESSMENT_MEASURES
from hub.http.policy import ACTION_FIELDS, DERIVED_IDS, HTTP_KINDS, HUB_OWNED_FIELDS
from hub.http.problems import MEDIA_TYPE, PROBLEMS
from hub.records import KINDS, MATTER_CATALOGUE, OFFICER_ROSTER
from hub.reference import Reference
from hub.settings import HubSettings
from hub.wire import CURSOR_PATTERN

REF = "#/components/schemas/{model}"
UNSAID = (
    "JSON 模式无法表达、以422拒绝并在问题中指明的规则：统一社会信用代码（GB 32100）和公民身份"
    "号码（GB 11643）的校验码，身份号码中的出生日期须为过去的真实日期；派单接收方不含派单方，"
    "办理期限晚于派单时间；案件执法人员不得重复。事项编码和执法证号以工作节点当前参考数据为准"
    "（即其所提供文档中的枚举）。 "
    "Rules a JSON schema cannot say, refused with 422 and named in the problem: the check "
    "characters of a unified social credit code (GB 32100) and of a citizen identity "
    "number (GB 11643), whose birth date is a real past date; an order's recipients "
    "other than its issuer and its deadline after its issue; a case's officers distinct. "
    "Matter codes and certificate numbers are those of the worker's current reference "
    "data (the enums of the document it serves)."
)


def _problem_schema() -> dict[str, Any]:
    field_error = {
        "type": "object",
        "required": ["path", "rule", "message_zh", "message_en"],
        "properties": {k: {"type": "string"} for k in ("path", "rule", "message_zh", "message_en")},
    }
    return {
        "type": "object",
        "description": "RFC 9457 problem details, in English and Chinese.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": sorted(p.uri for p in PROBLEMS.values())},
            "title": {"type": "string"},
            "title_zh": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "detail_zh": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "array", "items": field_error},
        },
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


_COMMON_ERRORS = {
    "401": _problem("missing, invalid or revoked token; bad, stale or replayed signature"),
    "403": _problem("the party may not do this"),
    "429": _problem("rate limit; see Retry-After"),
    "503": _problem("Kafka unavailable or timeout; nothing written; see Retry-After"),
}

_ACCEPTED: dict[str, Any] = {
    "type": "object",
    "required": ["record_id", "topic", "partition", "offset"],
    "properties": {
        "record_id": {"type": "string", "format": "uuid"},
        "topic": {"type": "string"},
        "partition": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "duplicate": {"type": "boolean", "description": "already accepted earlier"},
    },
}


def _cursor_parameter(where: Literal["query", "header"]) -> dict[str, Any]:
    """The inbox cursor, as ``?cursor=`` or as the SSE ``Last-Event-ID`` header."""
    return {
        "name": "cursor" if where == "query" else "Last-Event-ID",
        "in": where,
        "required": False,
        "schema": {"type": "string", "pattern": CURSOR_PATTERN},
        "description": (
            "partition:offset pairs joined by commas, as the last page (or event id) gave "
            "them; empty or absent: from the start"
        ),
    }


def _publish_paths(kind: str, schema_name: str) -> dict[str, Any]:
    body = {"$ref": f"#/components/schemas/{schema_name}"}
    one = {
        "post": {
            "operationId": f"publish_{kind.replace('-', '_')}",
            "summary": f"Publish one {kind} record (202 once the broker acknowledged it)",
            "description": UNSAID,
            "tags": ["publish"],
            "parameters": [_trace_header()],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "202": {
                    "description": "durably written (acks=all)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                    },
                },
                "400": _problem("body is not JSON"),
                "413": _problem("body too large"),
                "415": _problem("not application/json"),
                "422": _problem("validation errors, hub-owned fields"),
                **_COMMON_ERRORS,
            },
        }
    }
    batch = {
        "post": {
            "operationId": f"publish_{kind.replace('-', '_')}_batch",
            "summary": f"Publish a batch of {kind} records, answered per record",
            "tags": ["publish"],
            "parameters": [_trace_header()],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["records"],
                            "properties": {
                                "records": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "description": (
                                            f"a {schema_name} record; each is checked on its "
                                            "own and answered at its index in results "
                                            "(202, or its problem)"
                                        ),
                                    },
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "every record written",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}
                    },
                },
                "207": {
                    "description": "some records refused; see results",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}
                    },
                },
                "400": _problem("body is not JSON"),
                "413": _problem("body or batch too large"),
                "415": _problem("not application/json"),
                "422": _problem("no records array, or an item that is not an object"),
                **_COMMON_ERRORS,
            },
        }
    }
    return {f"/v1/records/{kind}": one, f"/v1/records/{kind}/batch": batch}


def _trace_header() -> dict[str, Any]:
    return {
        "name": "X-Trace-Id",
        "in": "header",
        "required": False,
        "description": "trace id (16-32 hex) to follow the exchange across the hub",
        "schema": {"type": "string"},
    }


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (KINDS[kind].model, "validation") for kind in HTTP_KINDS
    ]
    top, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = copy.deepcopy(defs.get("$defs", {}))
    for kind in HTTP_KINDS:
        name = KINDS[kind].model.__name__
        for field in (*HUB_OWNED_FIELDS, DERIVED_IDS.get(name)):  # the hub's to fill
            schemas[name]["properties"].pop(field, None)
    schemas["Problem"] = _problem_schema()
    schemas["Accepted"] = _ACCEPTED
    schemas["BatchResult"] = {
        "type": "object",
        "required": ["accepted", "results"],
        "properties": {
            "accepted": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "status"],
                    "properties": {
                        "index": {"type": "integer"},
                        "status": {"type": "integer"},
                        "record_id": {"type": "string"},
                        "topic": {"type": "string"},
                        "partition": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "duplicate": {"type": "boolean"},
                        "problem": {"$ref": "#/components/schemas/Problem"},
                    },
                },
            },
        },
    }
    schemas["InboxPage"] = {
        "type": "object",
        "required": ["items", "cursor"],
        "properties": {
            "cursor": {
                "type": "string",
                "pattern": CURSOR_PATTERN,
                "description": "pass back to resume after the last item",
            },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["partition", "offset", "kind"],
                    "properties": {
                        "partition": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "kind": {"type": "string"},
                        "record": {"type": "object"},
                        "error": {"type": "string"},
                    },
                },
            },
        },
    }
    paths: dict[str, Any] = {}
    for kind in HTTP_KINDS:
        paths.update(_publish_paths(kind, KINDS[kind].model.__name__))
    inbox_params = [
        _cursor_parameter("query"),
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        },
    ]
    paths["/v1/inbox"] = {
        "get": {
            "operationId": "read_inbox",
            "summary": "Orders and events addressed to the caller, from a cursor",
            "tags": ["inbox"],
            "parameters": inbox_params,
            "responses": {
                "200": {
                    "description": "a page",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/InboxPage"}}
                    },
                },
                "422": _problem("bad cursor or limit"),
                **_COMMON_ERRORS,
            },
        }
    }
    paths["/v1/inbox/stream"] = {
        "get": {
            "operationId": "stream_inbox",
            "summary": "The inbox as Server-Sent Events; resumes from Last-Event-ID",
            "tags": ["inbox"],
            "parameters": [
                _cursor_parameter("query"),
                _cursor_parameter("header"),
            ],
            "responses": {
                "200": {
                    "description": "event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "422": _problem("bad cursor"),
                **_COMMON_ERRORS,
            },
        }
    }
    order_id = {
        "name": "order_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "the order's id (its record_id)",
    }
    schemas["OrderSummary"] = {
        "type": "object",
        "required": ["order_id", "order_type", "issuer", "recipients", "state"],
        "properties": {
            "order_id": {"type": "string"},
            "order_type": {"type": "string"},
            "issuer": {"type": "string"},
            "recipients": {"type": "array", "items": {"type": "string"}},
            "matter_code": {"type": "string"},
            "state": {"type": "string", "enum": [s.value for s in OrderState]},
            "issued_at": {"type": "string"},
            "deadline": {"type": ["string", "null"]},
            "case_owner": {
                "type": ["string", "null"],
                "description": "case transfers: who owns the case (the receiver once accepted)",
            },
        },
    }
    schemas["OrderView"] = {
        "allOf": [
            {"$ref": "#/components/schemas/OrderSummary"},
            {
                "type": "object",
                "required": ["history", "returns"],
                "properties": {
                    "returns": {"type": "integer"},
                    "history": {"type": "array", "items": {"type": "object"}},
                    "dues": {
                        "type": "object",
                        "description": "when sign-off, answer and acceptance are due",
                    },
                },
            },
        ]
    }
    # an action on an order is an OrderEvent without what the hub fills (order, party, ids)
    event = schemas[KINDS["order-event"].model.__name__]
    schemas["OrderAction"] = {
        "type": "object",
        "required": ["event_type"],
        "additionalProperties": False,
        "properties": {name: copy.deepcopy(event["properties"][name]) for name in ACTION_FIELDS},
        "allOf": copy.deepcopy(event.get("allOf", [])),
    }
    schemas["OrderAction"]["properties"]["source_id"]["description"] = (
        "your id of this action; re-sending it is applied once (default: one the hub makes)"
    )
    accepted_action = copy.deepcopy(_ACCEPTED)
    accepted_action["properties"] = {
        **accepted_action["properties"],
        "state_after": {"type": "string"},
    }
    schemas["AcceptedAction"] = accepted_action
    paths["/v1/orders"] = {
        "get": {
            "operationId": "list_orders",
            "summary": "The orders the caller issued or received",
            "tags": ["orders"],
            "parameters": [
                {
                    "name": "role",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["issued", "received"]},
                },
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": [s.value for s in OrderState]},
                },
            ],
            "responses": {
                "200": {
                    "description": "orders",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["orders"],
                                "properties": {
                                    "orders": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/OrderSummary"},
                                    }
                                },
                            }
                        }
                    },
                },
                "422": _problem("bad role or state"),
                **_COMMON_ERRORS,
            },
        }
    }
    paths["/v1/orders/{order_id}"] = {
        "get": {
            "operationId": "show_order",
            "summary": "An order's state and history (parties on the order only)",
            "tags": ["orders"],
            "parameters": [order_id],
            "responses": {
                "200": {
                    "description": "the order",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/OrderView"}}
                    },
                },
                "404": _problem("no such order, or not yours"),
                **_COMMON_ERRORS,
            },
        }
    }
    paths["/v1/orders/{order_id}/events"] = {
        "post": {
            "operationId": "act_on_order",
            "summary": "Act on an order (sign, report, answer, return, close, evaluate, ...)",
            "tags": ["orders"],
            "parameters": [order_id],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/OrderAction"}}
                },
            },
            "responses": {
                "202": {
                    "description": "the event is written; state_after is where the order goes",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/AcceptedAction"}
                        }
                    },
                },
                "400": _problem("body is not JSON"),
                "404": _problem("no such order, or not yours"),
                "409": _problem("the action does not fit the order's state"),
                "413": _problem("body too large"),
                "415": _problem("not application/json"),
                "422": _problem("validation errors, hub-owned fields"),
                **_COMMON_ERRORS,
            },
        }
    }
    nullable_number = {"type": ["number", "null"]}
    schemas["Assessment"] = {
        "type": "object",
        "description": "双向考核 one party's figures for one month (orders it received then)",
        "required": ["party", "period", "received", "signed_on_time_rate"],
        "properties": {
            "party": {"type": "string"},
            "period": {"type": "string"},
            **{name: {"type": "integer"} for name in ASSESSMENT_MEASURES},
            **{
                name: nullable_number
                for name in (
                    "signed_on_time_rate",
                    "answered_on_time_rate",
                    "mean_response_hours",
                    "p90_response_hours",
                    "mean_evaluation",
                )
            },
        },
    }
    paths["/v1/assessment"] = {
        "get": {
            "operationId": "assessment",
            "summary": "Two-way assessment of a month (justice: every party; others: their own)",
            "tags": ["orders"],
            "parameters": [
                {
                    "name": "period",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])$"},
                    "description": "the month, YYYY-MM (default: this month, Beijing time)",
                }
            ],
            "responses": {
                "200": {
                    "description": "the month's figures",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["period", "parties"],
                                "properties": {
                                    "period": {"type": "string"},
                                    "parties": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Assessment"},
                                    },
                                },
                            }
                        }
                    },
                },
                "422": _problem("period is not YYYY-MM"),
                **_COMMON_ERRORS,
            },
        }
    }
    paths["/v1/native/{native_kind}"] = {
        "post": {
            "operationId": "post_native",
            "summary": "Post a record in the caller's own native format (its mapping spec)",
            "tags": ["records"],
            "parameters": [
                {
                    "name": "native_kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "one of the caller's native kinds (README: Connectors)",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "202": {
                    "description": "mapped, valid, written to raw.<party>.v1",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["record_id", "kind", "topic", "canonical_topic"],
                                "properties": {
                                    "record_id": {"type": "string", "format": "uuid"},
                                    "kind": {"type": "string"},
                                    "topic": {"type": "string"},
                                    "partition": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                    "canonical_topic": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "400": _problem("body is not JSON"),
                "404": _problem("not one of the caller's native kinds"),
                "413": _problem("body too large"),
                "422": _problem("the mapping or a canonical rule is broken; see errors"),
                **_COMMON_ERRORS,
            },
        }
    }
    paths["/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["contract"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "401": _COMMON_ERRORS["401"],
                "429": _COMMON_ERRORS["429"],
            },
        }
    }
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness (no data, no authentication)",
            "tags": ["operations"],
            "security": [],
            "responses": {
                "200": {
                    "description": "alive",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    del top
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
            "schemas": schemas,
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
def _with_codes(matters: tuple[str, ...], officers: tuple[str, ...]) -> dict[str, Any]:
    named = copy.deepcopy(_document())
    _name_codes(named, {MATTER_CATALOGUE: list(matters), OFFICER_ROSTER: list(officers)})
    return named


def document(
    settings: HubSettings | None = None, reference: Reference | None = None
) -> dict[str, Any]:
    """The OpenAPI document. Given the worker's reference data, matter codes and officer
    certificates are those of its current catalogue and roster (officers who may act
    today), what validation accepts; without it, or while they are empty, their pattern
    only."""
    if reference is None:
        return _with_codes((), ())
    today = date.today()
    return _with_codes(
        tuple(sorted(reference.matters)),
        tuple(sorted(n for n, officer in reference.officers.items() if officer.usable_on(today))),
    )


class OpenApi:
    """Serves the document, with the worker's current reference data."""

    def __init__(self, settings: HubSettings, reference: Callable[[], Reference]) -> None:
        self.settings = settings
        self.reference = reference

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v1/openapi.json", self.openapi)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(document(self.settings, self.reference()))
