"""The local stack's inbox page, `GET /_local/inbox`: served by the gateway itself, with its config
escaped and a strict Content-Security-Policy. In a browser: tests/e2e/test_inbox_page.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from devstack.api import INBOX_PAGE_PATH, Answer, ApiGateway, websocket_url_of

WS_URL = "ws://127.0.0.1:3001/prod"


def gateway(api_key: str | None = "k", websocket_url: str | None = WS_URL) -> ApiGateway:
    return ApiGateway(
        [],
        {},
        stage="prod",
        api_key=api_key,
        region="us-east-1",
        account_id="1",
        outbox=lambda start: [],
        websocket_url=websocket_url,
    )


def get(
    api: ApiGateway, path: str = INBOX_PAGE_PATH, host: str = "127.0.0.1:3000", method: str = "GET"
) -> Answer:
    return api.handle(method, path, [("Host", host)], b"", "127.0.0.1")


def header(answer: Answer, name: str) -> str:
    [value] = [v for k, v in answer.headers if k.lower() == name.lower()]
    return value


def config_of(answer: Answer) -> dict[str, str | None]:
    [block] = re.findall(
        r'<script type="application/json" id="inbox-config">(.*?)</script>', answer.body.decode(), re.DOTALL
    )
    return dict(json.loads(block))


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_is_html_with_a_strict_policy_that_allows_its_own_script_and_style_only():
    answer = get(gateway())

    assert answer.status == 200
    assert header(answer, "Content-Type") == "text/html; charset=utf-8"
    assert header(answer, "Cache-Control") == "no-store"
    page = answer.body.decode()
    [script] = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    [style] = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    directives = dict(d.strip().split(" ", 1) for d in header(answer, "Content-Security-Policy").split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": csp_hash(script),
        "style-src": csp_hash(style),
        "connect-src": "'self' ws://127.0.0.1:3001",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }


def test_the_page_is_self_contained_and_renders_text_only():
    page = get(gateway()).body.decode()

    assert not re.search(r"\s(src|href)=", page)  # no external script, style, font or image
    assert "<link" not in page
    assert "innerHTML" not in page
    assert "style=" not in page  # an inline style attribute would need 'unsafe-hashes'
    for test_id in (
        "recipient",
        "connect",
        "status",
        "unread-count",
        "unseen-count",
        "mark-all-read",
        "items",
    ):
        assert f'data-testid="{test_id}"' in page


def test_the_page_is_given_the_api_key_and_the_websocket_url():
    assert config_of(get(gateway())) == {"apiKey": "k", "webSocketUrl": WS_URL}


def test_injected_values_cannot_end_the_config_block():
    hostile = "</script><script>alert(1)</script><!-- & \" ' \u2028"

    answer = get(gateway(api_key=hostile))

    page = answer.body.decode()
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the config block's and the script's own
    assert config_of(answer)["apiKey"] == hostile


def test_without_a_websocket_url_given_it_comes_from_the_functions_management_url(monkeypatch):
    monkeypatch.setenv("WEBSOCKET_MANAGEMENT_URL", "http://127.0.0.1:4001/prod")

    answer = get(gateway(websocket_url=None))

    assert config_of(answer)["webSocketUrl"] == "ws://127.0.0.1:4001/prod"
    assert "connect-src 'self' ws://127.0.0.1:4001;" in header(answer, "Content-Security-Policy")


@pytest.mark.parametrize(
    ("management_url", "expected"),
    [
        ("http://127.0.0.1:3001/prod", "ws://127.0.0.1:3001/prod"),
        ("http://localhost:3001/prod/", "ws://localhost:3001/prod"),
        ("https://127.0.0.1:3001/v1", "wss://127.0.0.1:3001/v1"),
        ("https://localws.execute-api.us-east-1.amazonaws.com/prod", None),  # the template's own
        ("", None),
        (None, None),
    ],
)
def test_the_websocket_url_of_a_management_url(management_url, expected):
    assert websocket_url_of(management_url) == expected


def test_with_no_websocket_url_the_page_may_connect_to_its_own_origin_only(monkeypatch):
    monkeypatch.delenv("WEBSOCKET_MANAGEMENT_URL", raising=False)

    answer = get(gateway(websocket_url=None))

    assert config_of(answer)["webSocketUrl"] is None
    assert "connect-src 'self';" in header(answer, "Content-Security-Policy")


@pytest.mark.parametrize("host", ["127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:3000"])
def test_the_page_is_served_to_a_loopback_host(host):
    assert get(gateway(), host=host).status == 200


@pytest.mark.parametrize("host", ["evil.example:3000", "10.0.0.5:3000", "", "[::1"])
def test_the_page_holds_the_key_so_another_host_is_refused(host):
    """A DNS-rebound name reaches the same socket; the page is not for it."""
    answer = get(gateway(), host=host)

    assert answer.status == 403
    assert b"k" not in answer.body.replace(b"key", b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_local/nothing"),
        ("GET", "/_local/inbox/more"),
        ("POST", INBOX_PAGE_PATH),
        ("GET", "/_local/"),
    ],
)
def test_any_other_local_path_is_404(method, path):
    answer = get(gateway(), path, method=method)

    assert answer.status == 404
    assert json.loads(answer.body)["error"] == "not_found"


def test_the_other_local_pages_are_unchanged():
    assert get(gateway(), "/_local/outbox").status == 200
    assert get(gateway(), "/_local/health").status == 200
