"""`PUT`, `GET` and `DELETE /recipients/{recipientId}`, through the publish function against moto."""

from __future__ import annotations

import json

from devstack.lambda_events import api_event, load_event

RESOURCE = "/recipients/{recipientId}"


def recipient_event(method: str, recipient_id: str, body: object = None) -> dict:
    return api_event(
        method,
        f"/recipients/{recipient_id}",
        resource=RESOURCE,
        path_parameters={"recipientId": recipient_id},
        body=body,
    )


def test_putting_a_new_recipient_creates_it_and_answers_201_with_the_stored_document(publish):
    answer = publish(load_event("api_put_recipient.json"))

    assert answer["statusCode"] == 201
    stored = json.loads(answer["body"])
    assert stored["recipient_id"] == "user-123"
    assert stored["locale"] == "es-ES"
    assert stored["preferences"]["quiet_hours"] == {"start": "22:00", "end": "07:30"}
    assert stored["updated_at"]


def test_putting_an_existing_recipient_replaces_it_and_answers_200(publish):
    publish(load_event("api_put_recipient.json"))

    answer = publish(recipient_event("PUT", "user-123", {"contacts": {"email": "new@example.com"}}))

    assert answer["statusCode"] == 200
    fetched = json.loads(publish(load_event("api_get_recipient.json"))["body"])
    assert fetched["contacts"] == {"email": "new@example.com", "phone": None, "push_tokens": []}
    assert fetched["preferences"]["quiet_hours"] is None  # a PUT replaces the whole document


def test_getting_a_recipient_returns_what_was_put(publish):
    put = json.loads(publish(load_event("api_put_recipient.json"))["body"])

    answer = publish(load_event("api_get_recipient.json"))

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == put


def test_getting_an_unknown_recipient_answers_404_naming_it(publish):
    answer = publish(recipient_event("GET", "nobody-here"))

    assert answer["statusCode"] == 404
    assert "nobody-here" in json.loads(answer["body"])["message"]


def test_deleting_a_recipient_answers_204_then_404(publish):
    publish(load_event("api_put_recipient.json"))

    first = publish(load_event("api_delete_recipient.json"))
    second = publish(load_event("api_delete_recipient.json"))

    assert first["statusCode"] == 204
    assert second["statusCode"] == 404
    assert publish(load_event("api_get_recipient.json"))["statusCode"] == 404


def test_an_invalid_recipient_answers_400_naming_every_bad_field_and_stores_nothing(publish):
    answer = publish(load_event("api_put_recipient_invalid.json"))

    assert answer["statusCode"] == 400
    fields = {problem["field"] for problem in json.loads(answer["body"])["fields"]}
    assert fields == {
        "contacts.email",
        "contacts.phone",
        "contacts.push_tokens.0.platform",
        "timezone",
        "preferences.quiet_hours",
    }
    assert publish(load_event("api_get_recipient.json"))["statusCode"] == 404


def test_an_unknown_preference_is_a_400_not_silently_ignored(publish):
    answer = publish(recipient_event("PUT", "user-123", {"preferences": {"quiet_hour": {"start": "22:00"}}}))

    assert answer["statusCode"] == 400
    [problem] = json.loads(answer["body"])["fields"]
    assert problem == {"field": "preferences.quiet_hour", "reason": "unknown field"}


def test_a_recipient_id_outside_the_allowed_characters_is_a_400(publish):
    answer = publish(recipient_event("PUT", "bad id!", {}))

    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["fields"][0]["field"] == "recipientId"
