"""Error answers of the API: one body shape (`ErrorBody`) for every error, one table from error to answer.

`ANSWERS` maps each domain error type to its status, its `error` code and whether the same request may
succeed later; an error type not in the table takes the answer of its nearest base class that is. A
retryable answer carries `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from notifier.errors import (
    ForbiddenError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    NotFoundError,
    NothingPublishedError,
    NotifierError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from notifier.models.responses import BulkNotPublished, ErrorBody, FieldProblem

# Where pydantic says a problem is, past the request part ("body", "path", ...).
_PARTS = ("body", "path", "query", "header")
RETRY_SOON = {"Retry-After": "1"}


class ErrorAnswer(NamedTuple):
    status: int
    error: str
    retryable: bool = False


ANSWERS: dict[type[NotifierError], ErrorAnswer] = {
    InvalidRequestError: ErrorAnswer(400, "invalid_request"),
    UnauthorizedError: ErrorAnswer(401, "unauthorized"),
    ForbiddenError: ErrorAnswer(403, "forbidden"),
    NotFoundError: ErrorAnswer(404, "not_found"),
    IdempotencyKeyInUseError: ErrorAnswer(409, "idempotency_key_in_use", retryable=True),
    PayloadTooLargeError: ErrorAnswer(413, "payload_too_large"),
    UnsupportedMediaTypeError: ErrorAnswer(415, "unsupported_media_type"),
    IdempotencyKeyReusedError: ErrorAnswer(422, "idempotency_key_reused"),
    # No event of a bulk reached SNS: the body is the per-event answer (`BulkNotPublished`).
    NothingPublishedError: ErrorAnswer(503, "unavailable", retryable=True),
    # Everything else raised on purpose is a dependency that did not answer (SNS, DynamoDB): retry.
    NotifierError: ErrorAnswer(503, "unavailable", retryable=True),
}


def answer_errors(app: APIGatewayRestResolver) -> None:
    """Make `app` answer every refusal in the shape above: an invalid request, a domain error (through
    `ANSWERS`) and a path parameter no route's pattern takes."""

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        return validation_error_response(exc.errors())

    @app.exception_handler(NotifierError)  # type: ignore[untyped-decorator]
    def _refused(exc: NotifierError) -> Response[Any]:
        return response_for(exc)

    @app.not_found
    def _no_route(exc: Exception) -> Response[Any]:
        # API Gateway answers unknown routes itself: a request reaches this only when its decoded path
        # parameter holds characters no route's pattern takes (a control character, say).
        parameters = app.current_event.path_parameters or {}
        problems = dict.fromkeys(parameters, "contains characters this path parameter does not take")
        refused = InvalidRequestError(problems) if problems else NotFoundError("no such route")
        return response_for(refused)


def answer_for(exc: NotifierError) -> tuple[ErrorAnswer, ErrorBody | BulkNotPublished]:
    """The answer to `exc`, and its body."""
    answer = next(ANSWERS[kind] for kind in type(exc).__mro__ if kind in ANSWERS)
    if isinstance(exc, NothingPublishedError):
        return answer, exc.answer
    problems = exc.problems if isinstance(exc, InvalidRequestError | UnauthorizedError) else {}
    fields = [FieldProblem(field=field, reason=reason) for field, reason in problems.items()]
    return answer, ErrorBody(error=answer.error, message=str(exc), fields=fields, retryable=answer.retryable)


def response_for(exc: NotifierError) -> Response[Any]:
    """`exc` as the resolver's answer."""
    answer, body = answer_for(exc)
    return _response(answer.status, body)


def proxy_response_for(exc: NotifierError) -> dict[str, Any]:
    """`exc` as an API Gateway proxy answer, for what is refused before the resolver runs."""
    answer, body = answer_for(exc)
    headers = {"Content-Type": ["application/json"]}
    if answer.retryable:
        headers |= {name: [value] for name, value in RETRY_SOON.items()}
    return {
        "statusCode": answer.status,
        "multiValueHeaders": headers,
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }


def validation_error_response(errors: Sequence[Any]) -> Response[Any]:
    """400 naming each field that is wrong, and why."""
    fields = [_field_problem(error) for error in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        body = ErrorBody(error="invalid_json", message="the request body is not valid JSON", fields=fields)
        return _response(400, body)
    summary = "; ".join(f"{f.field}: {f.reason}" for f in fields)
    body = ErrorBody(error="invalid_request", message=summary or "the request is not valid", fields=fields)
    return _response(400, body)


def _response(status: int, body: ErrorBody | BulkNotPublished) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
        headers=RETRY_SOON if body.retryable else None,
    )


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
