"""Error answers of the API: one body shape (`ErrorBody`) for every error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from .models import ErrorBody, FieldProblem

# Where pydantic says a problem is, past the request part ("body", "path", ...).
_PARTS = ("body", "path", "query", "header")


def error_response(
    status: int,
    error: str,
    message: str,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    *,
    retryable: bool = False,
) -> Response[Any]:
    body = ErrorBody(error=error, message=message, fields=fields or [], retryable=retryable)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
        headers=headers,
    )


def validation_error_response(errors: Sequence[Any]) -> Response[Any]:
    """400 naming each field that is wrong, and why."""
    fields = [_field_problem(error) for error in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON", fields)
    summary = "; ".join(f"{f.field}: {f.reason}" for f in fields)
    return error_response(400, "invalid_request", summary or "the request is not valid", fields)


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    loc = [str(part) for part in error.get("loc", ())]
    part = loc[0] if loc else None
    if part in _PARTS:
        loc = loc[1:]
    # Powertools puts the handler's parameter name first for a body model; drop it.
    if loc and loc[0] == "request":
        loc = loc[1:]
    # Powertools looks headers up in lower case; name them as they are documented (Idempotency-Key).
    if part == "header" and loc:
        loc = ["-".join(word.capitalize() for word in loc[0].split("-")), *loc[1:]]
    reason = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        reason = "unknown field"
    if error.get("type") == "value_error" and "error" in error.get("ctx", {}):
        reason = str(error["ctx"]["error"])  # our validator's own words, without "Value error, "
    if error.get("type") == "json_invalid":
        return FieldProblem(
            field="body", reason=f"not valid JSON ({error.get('ctx', {}).get('error', reason)})"
        )
    return FieldProblem(field=".".join(loc) or "body", reason=reason)
