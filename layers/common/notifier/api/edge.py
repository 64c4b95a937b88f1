"""The API's edge: what is refused before a request reaches a route, and what every answer carries.

Before the resolver runs (`serve`), in this order:
- a body larger than MAX_REQUEST_BYTES is answered 413 naming the body, before it is decoded or
  parsed, so an oversized request costs no validation and publishes nothing;
- `Content-Type`, `Idempotency-Key`, `x-api-key` or `Authorization` sent more than once, in any
  casing, is a 400 naming the header: which of two values a proxy or a framework would keep is
  anybody's guess;
- a body on a POST or PUT must be `application/json` (no media type is taken to mean it; a charset, if
  given, must be UTF-8): anything else, curl's default form encoding included, is a 415 naming
  `Content-Type`, rather than a list of fields "missing" from a body that was never JSON;
- the body must be UTF-8 text: a base64-encoded (binary) body is decoded here, so the resolver and
  `strict_json` see text only; and the path is percent-decoded, segment by segment, as API Gateway
  decodes path parameters (`/recipients/ana%40example.com` is recipient `ana@example.com`).

The JSON itself is parsed by the resolver with `strict_json.loads`. With CORS_ALLOW_ORIGIN set, every
answer carries Access-Control-Allow-Origin for that origin (API Gateway answers the preflight itself,
see the template); unset, no answer carries it, so browsers on other origins cannot read them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from notifier.api.answers import proxy_response_for
from notifier.errors import (
    InvalidBodyError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

JSON_MEDIA_TYPE = "application/json"
SINGLE_HEADERS = ("Content-Type", "Idempotency-Key", "x-api-key", "Authorization")
"""Headers whose meaning depends on there being one value."""
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def serve(
    event: dict[str, Any],
    resolve: Callable[[], dict[str, Any]],
    *,
    max_request_bytes: int,
    cors_allow_origin: str | None,
    media_types: Mapping[str, str] | None = None,
    single_headers: Sequence[str] = (),
) -> dict[str, Any]:
    """`resolve()`'s answer to `event`, or the edge's refusal; readable by `cors_allow_origin`.
    `media_types` names the routes (by path) whose body is not JSON, and what it is instead;
    `single_headers`, the headers besides SINGLE_HEADERS that must come once."""
    try:
        admit(event, max_request_bytes, media_types or {}, single_headers)
    except InvalidRequestError as refused:
        answer = proxy_response_for(refused)
    else:
        answer = resolve()
    return allow_origin(answer, cors_allow_origin)


def admit(
    event: dict[str, Any],
    max_request_bytes: int,
    media_types: Mapping[str, str] | None = None,
    single_headers: Sequence[str] = (),
) -> None:
    """Raise what `event` is refused for (see the module's doc); a base64 body and the path are decoded
    in place."""
    _decode_path(event)
    size = body_size(event)
    if size > max_request_bytes:
        raise PayloadTooLargeError(size, max_request_bytes)
    for name in (*SINGLE_HEADERS, *single_headers):
        if len(header_values(event, name)) > 1:
            raise InvalidRequestError({name: "sent more than once; send it once"})
    if str(event.get("httpMethod", "")).upper() in _METHODS_WITH_BODY:
        _check_content_type(event, (media_types or {}).get(str(event.get("path", "")), JSON_MEDIA_TYPE))
        _decode_body(event)


def body_size(event: dict[str, Any]) -> int:
    """Bytes of the request body as the client sent it (API Gateway base64-encodes binary bodies)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body.encode("utf-8", "surrogatepass"))


def header_values(event: dict[str, Any], name: str) -> list[str]:
    """Every value of header `name` in `event`, whatever the casing each was sent in."""
    wanted = name.lower()
    multi = event.get("multiValueHeaders")
    if multi:
        return [v for key, values in multi.items() if key.lower() == wanted for v in values or []]
    return [v for key, v in (event.get("headers") or {}).items() if key.lower() == wanted]


def _decode_path(event: dict[str, Any]) -> None:
    """Each segment of the path percent-decoded, as API Gateway decodes `pathParameters` (its `path` it
    leaves as sent): the resolver reads path parameters from the path. An encoded slash stays encoded,
    so it cannot split a parameter into two segments."""
    path = event.get("path")
    if isinstance(path, str) and "%" in path:
        event["path"] = "/".join(s if "%2f" in s.lower() else unquote(s) for s in path.split("/"))


def _check_content_type(event: dict[str, Any], expected: str) -> None:
    values = header_values(event, "Content-Type")
    if not values:
        if expected == JSON_MEDIA_TYPE:
            return  # API Gateway's reading too: no media type is JSON
        raise UnsupportedMediaTypeError("none", expected)
    media_type, *parameters = (part.strip() for part in values[0].split(";"))
    if media_type.lower() != expected:
        raise UnsupportedMediaTypeError(values[0], expected)
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(values[0], expected)
    # Media types are case-insensitive (RFC 9110); the resolver compares them as sent, so say it its way.
    for headers, canonical in (("headers", expected), ("multiValueHeaders", [expected])):
        for key in event.get(headers) or {}:
            if key.lower() == "content-type":
                event[headers][key] = canonical


def _decode_body(event: dict[str, Any]) -> None:
    body = event.get("body")
    if not body:
        return
    try:
        if event.get("isBase64Encoded"):
            event["body"] = base64.b64decode(body, validate=True).decode("utf-8")
            event["isBase64Encoded"] = False
        else:
            body.encode("utf-8")  # a lone surrogate is not text either
    except (UnicodeError, binascii.Error):
        raise InvalidBodyError({"body": "not UTF-8 text"}) from None


def allow_origin(response: dict[str, Any], origin: str | None) -> dict[str, Any]:
    """`response` (an API Gateway proxy response) readable by browsers on `origin`; as is if None."""
    if not origin:
        return response
    headers = {"Access-Control-Allow-Origin": [origin]}
    if origin != "*":
        headers["Vary"] = ["Origin"]  # caches must not hand this answer to another origin
    if "headers" in response and "multiValueHeaders" not in response:
        response["headers"] = {**(response["headers"] or {}), **{k: v[0] for k, v in headers.items()}}
    else:
        response["multiValueHeaders"] = {**(response.get("multiValueHeaders") or {}), **headers}
    return response
