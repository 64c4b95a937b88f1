"""The API's edge: oversized bodies are refused before anything is parsed; CORS only when configured."""

from __future__ import annotations

import base64
import json

import pytest

from devstack.lambda_events import api_event, load_event
from notifier import runtime
from tests.functional.test_publish_api import queued_anywhere


def _event_of_size(size: int) -> dict:
    """A valid POST /event whose body is exactly `size` bytes (padded with JSON whitespace)."""
    event = load_event("api_publish_event.json")
    event["body"] = event["body"] + " " * (size - len(event["body"].encode()))
    assert len(event["body"].encode()) == size
    return event


@pytest.fixture
def limit(monkeypatch, deployment) -> int:
    monkeypatch.setenv("MAX_REQUEST_BYTES", "2048")
    runtime.reset()
    return 2048


def test_a_body_over_the_limit_is_answered_413_naming_the_body_and_nothing_is_published(
    deployment, publish, limit
):
    answer = publish(_event_of_size(limit + 1))

    assert answer["statusCode"] == 413
    body = json.loads(answer["body"])
    assert body["error"] == "payload_too_large"
    assert body["fields"] == [{"field": "body", "reason": f"larger than {limit} bytes"}]
    assert body["retryable"] is False
    assert queued_anywhere(deployment) == 0


def test_a_body_at_the_limit_is_accepted(deployment, publish, limit):
    assert publish(_event_of_size(limit))["statusCode"] == 202


def test_a_base64_encoded_body_counts_its_decoded_bytes(deployment, publish, limit):
    event = _event_of_size(limit)
    event["body"] = base64.b64encode(event["body"].encode()).decode()  # 4/3 as long once encoded
    event["isBase64Encoded"] = True

    assert publish(event)["statusCode"] == 202
    event = _event_of_size(limit + 1)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert publish(event)["statusCode"] == 413


def test_the_default_limit_is_the_templates(deployment, publish):
    assert publish(_event_of_size(1_048_576 + 1))["statusCode"] == 413


def _header(answer: dict, name: str) -> str | None:
    values = (answer.get("multiValueHeaders") or {}).get(name) or []
    single = (answer.get("headers") or {}).get(name)
    return values[0] if values else single


EVERY_KIND_OF_ANSWER = pytest.mark.parametrize(
    "event",
    [
        load_event("api_publish_event.json"),
        load_event("api_publish_event_invalid.json"),
        api_event("GET", "/event/unknown", resource="/event/{event_id}", path_parameters={"event_id": "x"}),
    ],
    ids=["202", "400", "404"],
)
"""An accepted event, a rejected one, and a status that is not found."""


@EVERY_KIND_OF_ANSWER
def test_without_an_origin_no_answer_lets_a_browser_read_it(deployment, publish, event):
    assert _header(publish(event), "Access-Control-Allow-Origin") is None


@EVERY_KIND_OF_ANSWER
def test_with_an_origin_every_answer_names_it(deployment, publish, monkeypatch, event):
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://app.example.com")
    runtime.reset()

    answer = publish(event)

    assert _header(answer, "Access-Control-Allow-Origin") == "https://app.example.com"
    assert _header(answer, "Vary") == "Origin"


def test_the_413_answer_carries_the_origin_too(deployment, publish, monkeypatch, limit):
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "*")
    runtime.reset()

    answer = publish(_event_of_size(limit + 1))

    assert answer["statusCode"] == 413
    assert _header(answer, "Access-Control-Allow-Origin") == "*"
    assert _header(answer, "Vary") is None
