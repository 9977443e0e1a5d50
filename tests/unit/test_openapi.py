"""The OpenAPI document says what the handlers do: an action on an order that the
document allows is one the record rules accept, and one it forbids is refused, for every
event type and every combination of the fields the cross-field rules watch (rating,
reason, new recipients). schemathesis in the fault suite's contract case found the gap
this closes: the document allowed a rating on a SIGNED event; the hub refused it."""

from __future__ import annotations

import itertools
from typing import Any

import jsonschema_rs
import pytest

from hub.errors import RecordInvalid
from hub.gateway import openapi_document
from hub.records import EventType, validate
from tests.samples import sample

DOCUMENT = openapi_document()
WATCHED: dict[str, list[Any]] = {
    "rating": [None, 3],
    "reason": [None, "该事项已赋权街道，不属于本部门职责"],
    "reassign_to": [None, [], ["dept-water"]],
}


def _schema(name: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    )


def _actions() -> list[dict[str, Any]]:
    actions = []
    for event_type in EventType:
        for values in itertools.product(*WATCHED.values()):
            body: dict[str, Any] = {"event_type": event_type.value}
            body.update({k: v for k, v in zip(WATCHED, values, strict=True) if v is not None})
            actions.append(body)
    return actions


def _accepted(body: dict[str, Any]) -> bool:
    record = {k: v for k, v in sample("order-event").items() if k not in WATCHED}
    try:
        validate("order-event", {**record, **body})
    except RecordInvalid:
        return False
    return True


@pytest.mark.parametrize("name", ["OrderAction", "OrderEvent"])
def test_the_document_and_the_event_rules_agree_on_every_action(name: str) -> None:
    schema = _schema(name)
    base = {} if name == "OrderAction" else {
        k: v for k, v in sample("order-event").items()
        if k not in WATCHED and k in DOCUMENT["components"]["schemas"][name]["properties"]
    }
    disagree = [
        (body, schema.is_valid({**base, **body}), _accepted(body))
        for body in _actions()
        if schema.is_valid({**base, **body}) != _accepted(body)
    ]
    assert not disagree, disagree[:5]
    assert any(_accepted(body) for body in _actions())  # both sides say yes somewhere
    assert not all(_accepted(body) for body in _actions())  # and no somewhere


def test_an_action_takes_the_event_models_field_rules() -> None:
    action = DOCUMENT["components"]["schemas"]["OrderAction"]["properties"]
    event = DOCUMENT["components"]["schemas"]["OrderEvent"]["properties"]
    assert action["source_id"]["pattern"] == event["source_id"]["pattern"]
    assert action["reason"] == event["reason"] and action["rating"] == event["rating"]
