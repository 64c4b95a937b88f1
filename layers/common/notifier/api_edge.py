"""The API's edge: what is refused before a request reaches a route, and what every answer carries.

- A body larger than MAX_REQUEST_BYTES is answered 413 naming the body, before it is decoded or
  parsed, so an oversized request costs no validation and publishes nothing.
- With CORS_ALLOW_ORIGIN set, every answer carries Access-Control-Allow-Origin for that origin (API
  Gateway answers the preflight itself, see the template); unset, no answer carries it, so browsers
  on other origins cannot read them.
"""

from __future__ import annotations

from typing import Any

from .models import ErrorBody, FieldProblem


def body_size(event: dict[str, Any]) -> int:
    """Bytes of the request body as the client sent it (API Gateway base64-encodes binary bodies)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body.encode("utf-8"))


def too_large(event: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """The 413 answer (an API Gateway proxy response) when the body exceeds `limit` bytes, else None."""
    size = body_size(event)
    if size <= limit:
        return None
    body = ErrorBody(
        error="payload_too_large",
        message=f"the request body is {size} bytes; at most {limit} are accepted",
        fields=[FieldProblem(field="body", reason=f"larger than {limit} bytes")],
    )
    return {
        "statusCode": 413,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }


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
