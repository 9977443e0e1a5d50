"""The OpenAPI document says what the handlers do: an action on an order that the
document allows is one the record rules accept, and one it forbids is refused, for every
event type and every combination of the fields the cross-field rules watch (rating,
reason, new recipients). schemathesis in the fault suite's contract case found the gap
this closes: the document allowed a rating on a SIGNED event; the hub refused it."""

from __future__ import annotations

import itertools
import json
from typing import Any

import jsonschema_rs
import pytest
import schemathesis.openapi
from hypothesis import HealthCheck, given, settings

from hub.errors import RecordInvalid
from hub.http import openapi_document
from hub.http.openapi import all_routes
from hub.http.policy import HTTP_KINDS
from hub.records import EventType, validate
from hub.reference import Reference, load_seed_reference
from hub.settings import HubSettings
from hub.shared import load_datasets
from tests.faults.unsaid import mend, roster_of
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


def _field_schema(model: str, field: str) -> jsonschema_rs.Draft202012Validator:
    node = DOCUMENT["components"]["schemas"][model]["properties"][field]
    return jsonschema_rs.Draft202012Validator({**node, "components": DOCUMENT["components"]})


def _takes(kind: str, field: str, value: Any, reference: Reference | None = None) -> bool:
    try:
        validate(kind, {**sample(kind), field: value}, reference)
    except RecordInvalid:
        return False
    return True


MONEY = [0, 1, 0.5, 20000, 999_999_999_999.99, 1e13, -1, 0.001, "0", "20000.5", "1.25",
         "1.000", "", "abc", "1e5", "1.001", "-3", "1234567890123", " ", "NaN", "1.", " 1",
         "1_000", "0E-7", "+1", "0000000000000000001.50", "١٢"]


@pytest.mark.parametrize("value", MONEY, ids=repr)
def test_an_amount_the_document_allows_is_one_the_hub_takes(value: Any) -> None:
    """Found by the contract case: the document allowed any string as an amount; and
    what it allows now is what the hub takes, no more, no less."""
    allowed = _field_schema("Matter", "max_fine").is_valid(value)
    assert allowed == _takes("matter", "max_fine", value)
    assert allowed == (value in (0, 1, 0.5, 20000, 999_999_999_999.99, "0", "20000.5", "1.25",
                                 "1.000", "0000000000000000001.50"))


@pytest.mark.parametrize("value", ["   ", "\u3000", "\x1c\x1d", "\n\t", " 发票 ", "a"], ids=repr)
def test_a_text_of_blanks_only_is_out_of_the_document_and_refused(value: str) -> None:
    """Found by the contract case: `attachments[].name` of blanks passed the document
    and was refused once stripped."""
    allowed = _field_schema("Attachment", "name").is_valid(value)
    attachment = {**sample("clue")["attachments"][0], "name": value}
    assert allowed == _takes("clue", "attachments", [attachment])
    assert allowed == bool(value.strip())


def test_matter_codes_in_the_served_document_are_the_current_catalogue() -> None:
    """Found by the contract case: any `ABC-123` passed the document; the hub takes only
    the codes of its matter catalogue, which is reference data the worker reads."""
    reference = load_seed_reference()
    served = openapi_document(None, reference)
    code = served["components"]["schemas"]["Clue"]["properties"]["matter_code"]
    assert code["enum"] == sorted(reference.matters)
    assert "x-hub-matter-catalogue" not in json.dumps(served)
    assert _takes("clue", "matter_code", code["enum"][0], reference)
    assert not _takes("clue", "matter_code", "ZZZ-999", reference)
    smaller = Reference(reference.parties, dict(list(reference.matters.items())[:2]))
    clue = openapi_document(None, smaller)["components"]["schemas"]["Clue"]
    assert clue["properties"]["matter_code"]["enum"] == sorted(smaller.matters)


def test_dataset_ids_in_the_served_document_are_the_data_catalogue() -> None:
    """Found by the contract case: POST /v1/subscriptions took any dataset id the pattern
    allows in the document and refused one the catalogue lacks (422)."""
    settings = HubSettings()
    served = openapi_document(settings, load_seed_reference())
    dataset = served["components"]["schemas"]["SubscriptionRequest"]["properties"]["dataset"]
    assert dataset["enum"] == sorted(d.id for d in load_datasets(settings.datasets_file).datasets)
    assert "x-hub-data-catalogue" not in json.dumps(served)
    assert "enum" not in openapi_document(None, None)["components"]["schemas"][
        "SubscriptionRequest"]["properties"]["dataset"]  # no catalogue: the pattern only


SERVED = openapi_document(None, load_seed_reference())
OPERATIONS = schemathesis.openapi.from_dict(SERVED)


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_every_record_the_served_document_allows_is_one_the_hub_takes(kind: str) -> None:
    """Bodies generated from the served document (the contract case's way), with the rules
    it names but cannot say kept (`tests.faults.unsaid`), all pass the record rules with
    the worker's reference data. Before, a case with one officer, an organisation without
    its USCC, an order with a transfer detail on a whistle, coordinates in Tibet, ... all
    passed the document and were refused."""
    reference = load_seed_reference()
    roster = roster_of(SERVED)
    refused: list[tuple[list[tuple[str, str]], Any]] = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(OPERATIONS[f"/v1/records/{kind}"]["POST"].as_strategy())
    def check(case: Any) -> None:
        body = mend(case.body, roster)
        try:
            validate(kind, body, reference)
        except RecordInvalid as error:
            refused.append(([(e.path, e.rule) for e in error.errors], body))

    check()
    assert not refused, refused[:3]


def test_the_unsaid_rules_are_said_in_the_document() -> None:
    said = SERVED["paths"]["/v1/records/order"]["post"]["description"]
    for rule in ("GB 32100", "GB 11643", "recipients other than its issuer", "deadline",
                 "officers distinct"):
        assert rule in said


def test_every_request_body_is_documented_by_its_own_model() -> None:
    """Found by the contract case: two models named Decision (a case's, a subscription
    step's) shared one component, so the document described approve's body as a case
    decision."""
    for route in all_routes():
        if not isinstance(route.body, type):
            continue
        operation = SERVED["paths"][route.path][route.method.lower()]
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = SERVED["components"]["schemas"][reference.rsplit("/", 1)[1]]
        documented = set(component["properties"])
        assert documented == set(route.body.model_fields), (route.path, reference)
