"""Hostile and malformed requests through the publish handler: each gets a 4xx in the one error shape,
naming the field (or header, or `body`) at fault, and nothing is published or stored.

The cases are the categories that once reached a 5xx or SNS unchecked: deep nesting (RecursionError),
numbers past Python's digit limit, lone surrogates, bodies that are not UTF-8, NaN and Infinity, a
key twice in one object, single-valued headers sent twice, and bodies that are not JSON at all.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devstack.lambda_events import api_event
from notifier.api import strict_json
from tests.functional.conftest import receive_all
from tests.functional.test_publish_api import ALL_QUEUES, queued_anywhere

EVENT = {
    "user_id": "user_12345",
    "event_type": "SHARE",
    "payload": {"parent_id": "post_1", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"},
}
NOTIFICATION = {"recipientId": "user-123", "type": "email", "messageBody": "Order shipped"}
RECIPIENT = {"contacts": {"email": "ana@example.com"}}

ROUTES = {
    "publish": ("POST", "/api/v1/notifications/publish", None, NOTIFICATION),
    "event": ("POST", "/event", None, EVENT),
    "bulk": ("POST", "/events/bulk", None, {"events": [EVENT]}),
    "recipient": ("PUT", "/recipients/ana", "/recipients/{recipientId}", RECIPIENT),
}


def request(route: str, text: str | None = None, **headers: str) -> dict[str, Any]:
    method, path, resource, body = ROUTES[route]
    event = api_event(
        method,
        path,
        resource=resource,
        path_parameters={"recipientId": "ana"} if resource else None,
        body=text if text is not None else json.dumps(body),
        headers=headers or None,
    )
    return event


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def refused(answer: dict[str, Any], status: int) -> dict[str, Any]:
    assert answer["statusCode"] == status, answer
    body = json.loads(answer["body"])
    assert set(body) == {"error", "message", "fields", "retryable"}
    assert body["retryable"] is False
    assert body["fields"], "the answer names what is at fault"
    return body


def fields_of(body: dict[str, Any]) -> set[str]:
    return {problem["field"] for problem in body["fields"]}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("depth", [33, 900, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_body_on_every_route(deployment, publish, route, depth):
    _, _, _, body = ROUTES[route]
    text = json.dumps(body)[:-1] + f', "deep": {nested(depth)}}}'

    body = refused(publish(request(route, text)), 400)

    assert fields_of(body) == {"body"}
    assert "nested more than 32 levels" in body["fields"][0]["reason"]
    assert queued_anywhere(deployment) == 0


def test_nesting_within_the_limit_reaches_validation(deployment, publish):
    payload = {**EVENT["payload"], "tags": json.loads(nested(30))}

    body = refused(publish(request("event", json.dumps({**EVENT, "payload": payload}))), 400)

    assert fields_of(body) == {"payload.tags"}  # a payload value is one flat list at most


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1" * 5000, "longer than 32 characters"),
        ("-" + "9" * 40, "longer than 32 characters"),
        ("1e400", "too large for a double"),
        ("-1e400", "too large for a double"),
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
    ],
)
def test_numbers_json_cannot_carry_are_a_400_and_nothing_is_published(deployment, publish, value, reason):
    text = json.dumps(EVENT)[:-2] + f', "score": {value}}}}}'

    body = refused(publish(request("event", text)), 400)

    assert reason in body["fields"][0]["reason"]
    assert queued_anywhere(deployment) == 0


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_lone_surrogate_is_a_400_naming_its_field(deployment, publish, route):
    text = {
        "publish": '{"recipientId": "user-123", "type": "email", "messageBody": "hi \\ud83d"}',
        "event": json.dumps(EVENT)[:-2] + ', "actor_name": "Ana \\udc00"}}',
        "bulk": '{"events": [' + json.dumps(EVENT)[:-2] + ', "actor_name": "\\ud83d"}}]}',
        "recipient": '{"contacts": {"email": "ana@example.com"}, "locale": "\\ud800"}',
    }[route]

    body = refused(publish(request(route, text)), 400)

    assert (
        fields_of(body)
        == {
            "publish": {"messageBody"},
            "event": {"payload.actor_name"},
            "bulk": {"events.0.payload.actor_name"},
            "recipient": {"locale"},
        }[route]
    )
    assert "surrogate" in body["fields"][0]["reason"]
    assert queued_anywhere(deployment) == 0


def test_a_surrogate_pair_is_one_character_and_accepted(deployment, publish):
    text = json.dumps(EVENT)[:-2] + ', "actor_name": "Ana \\ud83d\\ude00"}}'

    assert publish(request("event", text))["statusCode"] == 202


@pytest.mark.parametrize(
    "raw",
    [b'{"user_id": "\xff\xfe"}', '{"user_id": "caf\u00e9"}'.encode("latin-1"), b"\x00\x81\x82"],
    ids=["invalid-bytes", "latin-1", "binary"],
)
def test_a_body_that_is_not_utf_8_is_a_400_naming_the_body(deployment, publish, raw):
    event = request("event")
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True

    body = refused(publish(event), 400)

    assert body["fields"] == [{"field": "body", "reason": "not UTF-8 text"}]


def test_a_utf_8_body_sent_as_binary_is_decoded_and_accepted(deployment, publish):
    event = request("event")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    assert publish(event)["statusCode"] == 202


def test_a_key_twice_in_one_object_is_a_400_naming_it(deployment, publish):
    text = '{"user_id": "user_12345", "user_id": "someone-else", "event_type": "LIKE", "payload": {}}'

    body = refused(publish(request("event", text)), 400)

    assert "'user_id' appears twice" in body["fields"][0]["reason"]


@pytest.mark.parametrize("header", ["Idempotency-Key", "x-api-key", "Content-Type"])
def test_a_single_valued_header_sent_twice_in_any_casing_is_a_400_naming_it(deployment, publish, header):
    event = request("event")
    value = "application/json" if header == "Content-Type" else "same-value"
    event["multiValueHeaders"][header] = [value]
    event["multiValueHeaders"][header.upper()] = [value]

    body = refused(publish(event), 400)

    assert body["fields"] == [{"field": header, "reason": "sent more than once; send it once"}]
    assert queued_anywhere(deployment) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",  # curl -d without -H
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=iso-8859-1",
        "application/jsonp",
    ],
)
@pytest.mark.parametrize("route", ["event", "recipient"])
def test_a_body_that_is_not_json_is_a_415_naming_the_content_type(deployment, publish, route, content_type):
    event = request(route, **{"Content-Type": content_type})

    body = refused(publish(event), 415)

    assert body["error"] == "unsupported_media_type"
    assert fields_of(body) == {"Content-Type"}
    assert queued_anywhere(deployment) == 0


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8", None])
def test_json_with_or_without_a_content_type_is_read(deployment, publish, content_type):
    event = request("event")
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("Content-Type")
    if content_type:
        event["headers"]["content-type"] = content_type
        event["multiValueHeaders"]["content-type"] = [content_type]

    assert publish(event)["statusCode"] == 202


def test_payload_values_beyond_their_bounds_are_a_400_naming_each(deployment, publish):
    payload = {
        **EVENT["payload"],
        "long": "x" * 1025,
        "big": 2**53,
        "nested": {"a": {"b": 1}},
        "many": list(range(33)),
    }

    body = refused(publish(request("event", json.dumps({**EVENT, "payload": payload}))), 400)

    assert fields_of(body) == {"payload.long", "payload.big", "payload.nested", "payload.many"}
    assert queued_anywhere(deployment) == 0


def test_every_accepted_payload_reaches_sns_as_standard_json(deployment, publish):
    payload = {
        **EVENT["payload"],
        "actor_name": "Ana 😀",
        "score": 2**53 - 1,
        "ratio": 0.5,
        "tags": ["a", 1, None, True],
        "meta": {"k": "v"},
    }

    assert publish(request("event", json.dumps({**EVENT, "payload": payload})))["statusCode"] == 202

    [record] = [r for queue in ALL_QUEUES for r in receive_all(deployment, queue)]
    message = strict_json.loads(record["body"])  # no NaN, no lone surrogate, no key twice
    assert message["content"]["payload"] == payload


def test_a_percent_encoded_path_parameter_is_decoded_as_api_gateway_decodes_it(deployment, publish):
    encoded = api_event(
        "PUT",
        "/recipients/ana%40example.com",
        resource="/recipients/{recipientId}",
        path_parameters={"recipientId": "ana@example.com"},
        body=RECIPIENT,
    )

    answer = publish(encoded)

    assert answer["statusCode"] == 201
    assert json.loads(answer["body"])["recipient_id"] == "ana@example.com"


@pytest.mark.parametrize(
    ("path", "decoded"), [("/recipients/%C2%84", "\x84"), ("/recipients/a%00b", "a\x00b")]
)
def test_a_path_parameter_no_route_takes_is_a_400_naming_it(deployment, publish, path, decoded):
    event = api_event(
        "GET", path, resource="/recipients/{recipientId}", path_parameters={"recipientId": decoded}
    )

    body = refused(publish(event), 400)

    assert fields_of(body) == {"recipientId"}
