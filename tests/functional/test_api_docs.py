"""GET /docs and GET /openapi.json through the publish handler: the published contract, served without
a CDN, and switched off by ApiDocs=Disabled."""

from __future__ import annotations

import json

import pytest

from build.openapi import DOCUMENT
from devstack.lambda_events import api_event
from notifier import runtime


def get(path: str, query: dict[str, str] | None = None) -> dict:
    event = api_event("GET", path)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event


def content_type(answer: dict) -> str:
    headers = answer.get("multiValueHeaders") or {}
    return (headers.get("Content-Type") or [answer.get("headers", {}).get("Content-Type")])[0]


def test_openapi_json_is_the_published_document(deployment, publish):
    answer = publish(get("/openapi.json"))

    assert answer["statusCode"] == 200
    assert content_type(answer) == "application/json"
    assert json.loads(answer["body"]) == json.loads(DOCUMENT.read_text(encoding="utf-8"))


def test_docs_is_a_swagger_ui_page_with_its_assets_inline(deployment, publish):
    answer = publish(get("/docs"))

    assert answer["statusCode"] == 200
    assert content_type(answer).startswith("text/html")
    page = answer["body"]
    assert "SwaggerUIBundle" in page
    assert "<script src=" not in page  # no CDN: the page works offline
    assert "<link rel=" not in page
    assert '"/api/v1/notifications/publish"' in page


def test_docs_answers_the_document_where_the_page_says_it_is(deployment, publish):
    answer = publish(get("/docs", {"format": "json"}))

    assert json.loads(answer["body"]) == json.loads(DOCUMENT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_with_api_docs_disabled_both_routes_are_404(deployment, publish, monkeypatch, path):
    monkeypatch.setenv("API_DOCS", "Disabled")
    runtime.reset()

    answer = publish(get(path))

    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "not_found"
