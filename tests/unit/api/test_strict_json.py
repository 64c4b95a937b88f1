"""Property tests of the API's body parser and limits (Hypothesis): whatever bytes arrive, the edge and
the parser answer with a value or a documented refusal, never another exception, and every value they
let through serializes again as standard UTF-8 JSON."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from notifier.api import edge, strict_json
from notifier.api.answers import answer_for
from notifier.errors import InvalidRequestError
from notifier.models.recipients import RecipientDocument
from notifier.models.requests import BulkEventRequest, EventRequest, PublishRequest

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MODELS = (PublishRequest, EventRequest, BulkEventRequest, RecipientDocument)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def answer_to(raw: bytes, content_type: str | None, model: type) -> int:
    """The status the publish function gives `raw` posted to the route of `model`, short of publishing."""
    headers = {"Content-Type": [content_type]} if content_type else {}
    event = {
        "httpMethod": "POST",
        "multiValueHeaders": headers,
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    try:
        edge.admit(event, 1_048_576)
        value = strict_json.loads(event["body"])
        accepted = model.model_validate(value)
    except InvalidRequestError as refused:
        return answer_for(refused)[0].status
    except (json.JSONDecodeError, ValidationError):
        return 400
    # What is accepted goes into an SNS message: it must serialize as standard JSON, in UTF-8.
    json.dumps(accepted.model_dump(mode="json"), allow_nan=False, ensure_ascii=False).encode("utf-8")
    return 202


@PROPERTY
@given(raw=st.binary(max_size=2048), content_type=st.sampled_from([None, "application/json", "text/plain"]))
def test_any_bytes_get_an_answer_in_the_documented_set(raw, content_type):
    for model in MODELS:
        assert answer_to(raw, content_type, model) in (202, 400, 415)


@PROPERTY
@given(value=json_like)
def test_any_json_value_is_read_back_or_refused_with_a_reason(value):
    text = json.dumps(value, ensure_ascii=False) if _encodable(value) else json.dumps(value)
    try:
        parsed = strict_json.loads(text)
    except strict_json.InvalidBodyError as refused:
        problems = refused.problems
        assert problems
        return
    # Accepted: the same value, and standard JSON again.
    assert parsed == value
    json.dumps(parsed, allow_nan=False, ensure_ascii=False).encode("utf-8")


@PROPERTY
@given(body=json_like.map(lambda value: {"user_id": "u", "event_type": "LIKE", "payload": value}))
def test_any_event_body_is_accepted_and_serializable_or_a_400(body):
    status = answer_to(json.dumps(body).encode(), "application/json", EventRequest)

    assert status in (202, 400)


@settings(PROPERTY, max_examples=60)
@given(depth=st.integers(min_value=0, max_value=200_000), opening=st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth_is_read_or_refused_without_a_recursion_error(depth, opening):
    closing = "]" if opening == "[" else "}"
    text = opening * depth + "1" + closing * depth

    if depth <= strict_json.MAX_DEPTH:
        assert strict_json.loads(text) is not None
    else:
        with pytest.raises(strict_json.InvalidBodyError):
            strict_json.loads(text)


@pytest.mark.parametrize("text", ['"[[[[["', '{"a": "]]]]]"}', '"\\"[[["'])
def test_brackets_inside_strings_do_not_count_as_nesting(text):
    assert strict_json.loads(text) is not None
    assert strict_json.loads("[" + ",".join([text] * 100) + "]")


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(value))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
