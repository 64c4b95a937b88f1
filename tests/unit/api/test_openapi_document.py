"""The published contract, docs/openapi.json: generated from the code, valid, and saying what the API
answers (every success and error, the API key, the constraints), with the sample events as examples."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from build.openapi import DOCUMENT, generate
from devstack.lambda_events import load_event
from notifier.models.recipients import RecipientDocument
from notifier.models.requests import BulkEventRequest, EventRequest, PublishRequest


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_the_committed_document_is_what_the_code_generates():
    assert DOCUMENT.read_text(encoding="utf-8") == generate(), "docs/openapi.json is stale: run make openapi"


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)


def test_every_route_of_the_template_is_described_and_no_other(document):
    described = {(method.upper(), path) for method, path, _ in operations(document)}

    assert described == {
        ("POST", "/api/v1/notifications/publish"),
        ("POST", "/event"),
        ("POST", "/events/bulk"),
        ("GET", "/event/{event_id}"),
        ("DELETE", "/event/{event_id}"),
        ("PUT", "/recipients/{recipientId}"),
        ("GET", "/recipients/{recipientId}"),
        ("DELETE", "/recipients/{recipientId}"),
        ("POST", "/event/{event_id}/receipts"),
        ("GET", "/suppressions"),
        ("GET", "/suppressions/{address}"),
        ("DELETE", "/suppressions/{address}"),
        ("GET", "/recipients/{recipientId}/inbox"),
        ("POST", "/recipients/{recipientId}/inbox/{notificationId}/{mark}"),
        ("POST", "/recipients/{recipientId}/inbox/mark-all/{mark}"),
        ("POST", "/recipients/{recipientId}/inbox/token"),
        ("POST", "/webhooks/sendgrid"),
        ("POST", "/webhooks/twilio"),
    }


WEBHOOKS = {"/webhooks/sendgrid", "/webhooks/twilio"}
INBOX = {
    "/recipients/{recipientId}/inbox",
    "/recipients/{recipientId}/inbox/{notificationId}/{mark}",
    "/recipients/{recipientId}/inbox/mark-all/{mark}",
}
"""The routes that take the API key or an inbox token (the token route itself: the API key only)."""
PUBLISHING = {"/api/v1/notifications/publish", "/event", "/events/bulk"}


def test_every_operation_but_the_vendors_webhooks_needs_the_api_key(document):
    assert document["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The stack's API key (Outputs: ApiKeyId).",
    }
    assert document["security"] == [{"api_key": []}]
    for _, path, op in operations(document):
        if path in WEBHOOKS:
            assert op["security"] == [], path  # the vendor's signature instead: a 401 without it
            assert "401" in op["responses"]
            assert all(p["required"] for p in op["parameters"] if p["in"] == "header")
        elif path in INBOX:
            assert op["security"] == [{"api_key": []}, {"inbox_token": []}], path
            assert {"401", "403"} <= set(op["responses"]), path
        else:
            assert "security" not in op, path
    assert document["components"]["securitySchemes"]["inbox_token"]["scheme"] == "bearer"


def test_every_operation_describes_its_success_its_400_and_403_in_the_one_error_shape(document):
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, op in operations(document):
        answers = op["responses"]
        assert any(code.startswith("2") for code in answers), (method, path)
        for code in ("400", "401" if path in WEBHOOKS else "403", "429", "503"):
            assert code in answers, (method, path, code)
        for code, answer in answers.items():
            if code.startswith("4"):
                assert answer["content"]["application/json"]["schema"] == error_body, (method, path, code)
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "message"}


def test_posts_with_a_body_describe_413_415_and_the_idempotency_answers(document):
    for method, path, op in operations(document):
        if "requestBody" in op:
            assert {"413", "415"} <= set(op["responses"]), (method, path)
        if path in PUBLISHING:
            assert {"409", "422"} <= set(op["responses"]), (method, path)
            [header] = [p for p in op["parameters"] if p["in"] == "header"]
            assert header["schema"]["maxLength"] == 255
            assert header["schema"]["pattern"].startswith("^")


def test_no_answer_is_powertools_default_422(document):
    assert "HTTPValidationError" not in json.dumps(document)


def test_path_parameters_and_contacts_carry_their_constraints(document):
    schemas = document["components"]["schemas"]
    [recipient_id] = document["paths"]["/recipients/{recipientId}"]["get"]["parameters"]
    assert recipient_id["schema"]["pattern"] == "^[A-Za-z0-9_.:@+-]{1,128}$"
    contacts = schemas["Contacts"]["properties"]
    assert "pattern" in json.dumps(contacts["email"])
    assert "pattern" in json.dumps(contacts["phone"])
    document_fields = schemas["RecipientDocument"]["properties"]
    assert "Europe/Madrid" in document_fields["timezone"]["enum"]
    assert "pattern" in document_fields["locale"]


@pytest.mark.parametrize(
    ("model", "events"),
    [
        (
            PublishRequest,
            [
                "api_publish_notification.json",
                "api_publish_notification_sms_critical.json",
                "api_publish_notification_inapp.json",
            ],
        ),
        (EventRequest, ["api_publish_event.json"]),
        (BulkEventRequest, ["api_publish_events_bulk.json"]),
        (RecipientDocument, ["api_put_recipient.json"]),
    ],
)
def test_the_request_examples_are_the_sample_events(model, events):
    examples = model.model_json_schema()["examples"]

    assert examples == [json.loads(load_event(name)["body"]) for name in events]
    for example in examples:
        model.model_validate(example)
