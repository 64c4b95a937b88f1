"""The API's published contract: an OpenAPI document generated from the publish function's routes, and
the Swagger UI page that shows it.

The routes declare their answers with `responses(...)`; `document(app)` asks Powertools for the
document, then keeps only what the API does: Powertools adds a 422 "HTTPValidationError" to every
route, while this API answers a request that fails validation with a 400 in its one error shape
(`ErrorBody`), and it gives a 204 the handler's return type as a body. The same text is served at
`GET /openapi.json`, embedded in `GET /docs`, and committed as `docs/openapi.json` (`python -m
build.openapi` writes it; a test fails when it is stale).

The server URL is relative ("."), so the document is right wherever it is served from: at the root on
the local stack, under the stage (`/prod/`) on API Gateway, at a custom domain's base path.

Nothing here is imported at a cold start's expense: Powertools' OpenAPI models load on the first
request for the documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.openapi.params import Path as PathParameter
from pydantic import BaseModel

from notifier.models.channels import NOTIFICATION_ID_MAX_CHARS, NOTIFICATION_ID_PATTERN
from notifier.models.responses import ErrorBody

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

TITLE = "notifier"
VERSION = "1"
DESCRIPTION = (
    "A serverless, multi-channel notification service: publish a notification or a social event, and "
    "the service routes it to e-mail, SMS and push, retries what fails for a transient reason and "
    "records the status of every delivery.\n\n"
    "Every route but `/docs`, `/openapi.json` and the vendors' webhooks needs the stack's API key in "
    "`x-api-key`; the webhooks need their vendor's signature instead, and a recipient's inbox also "
    "takes an inbox token for that recipient (`Authorization: Bearer`). Every POST "
    "accepts an `Idempotency-Key`. Request bodies are `application/json` in UTF-8, at most "
    "MAX_REQUEST_BYTES (1 MiB by default), nested at most 32 levels, without NaN, Infinity, numbers "
    "longer than 32 characters, lone UTF-16 surrogates or a key twice in one object. Every error is "
    "one JSON shape, `ErrorBody`, naming each field at fault."
)
API_KEY_SCHEME = "api_key"
INBOX_TOKEN_SCHEME = "inbox_token"  # noqa: S105 - the scheme's name, not a token

_ERRORS: dict[int, str] = {
    400: "The request is not valid: `fields` names each field (or header, or `body`) at fault, and why.",
    401: "The credentials are missing, wrong or too old (a vendor's signature; on an inbox, the inbox "
    "token or the API key): `fields` names the header, and nothing was read.",
    403: "No `x-api-key`, or not a key of this API; or no route has this method and path (API Gateway); "
    "or an inbox token used on another recipient's inbox.",
    404: "Nothing has this id.",
    409: "The first request with this `Idempotency-Key` is still being handled: retry after `Retry-After`.",
    413: "The body is larger than the API accepts (MAX_REQUEST_BYTES).",
    415: "The body is not `application/json` in UTF-8.",
    422: "This `Idempotency-Key` was first used with another body: a different request, not a retry.",
    429: "Too many requests for the API's or the key's throttle (API Gateway): retry later.",
    503: "A service the API depends on did not answer; nothing was changed: retry after `Retry-After`.",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}


def notification_id_path(description: str) -> Any:
    """A path parameter holding an event's or a notification's id, as every route that takes one
    publishes it (a value outside it is refused with a 400 naming the parameter)."""
    return PathParameter(
        min_length=1,
        max_length=NOTIFICATION_ID_MAX_CHARS,
        pattern=NOTIFICATION_ID_PATTERN,
        description=description,
    )


def responses(
    success: dict[int, tuple[type[BaseModel] | None, str]],
    errors: Iterable[int],
    *,
    error_models: dict[int, type[BaseModel]] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The answers of one route: each success code with its model (None: no body) and description,
    and each error code with `ErrorBody` (or the model in `error_models`)."""
    described: dict[int, OpenAPIResponse] = {}
    for status, (model, description) in success.items():
        described[status] = {"description": description}
        if model is not None:
            described[status]["content"] = {"application/json": {"model": model}}
    for status in errors:
        model = (error_models or {}).get(status, ErrorBody)
        described[status] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"model": model}},
        }
        if status in (409, 503):
            described[status]["headers"] = _RETRY_AFTER  # type: ignore[typeddict-item]
    return described


@cache
def document(app: APIGatewayRestResolver) -> str:
    """The OpenAPI document of the API: `app`'s routes and the webhooks function's, as JSON text
    (built once per execution environment)."""
    from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415 - see the module doc
        APIKey,
        APIKeyIn,
        HTTPBearer,
        Server,
    )

    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url=".", description="Where this document is served from")],
        security_schemes={
            API_KEY_SCHEME: APIKey(
                name="x-api-key", in_=APIKeyIn.header, description="The stack's API key (Outputs: ApiKeyId)."
            ),
            INBOX_TOKEN_SCHEME: HTTPBearer(
                bearerFormat="JWT",
                description="An inbox token (POST /recipients/{recipientId}/inbox/token), for that "
                "recipient's inbox only.",
            ),
        },
        security=[{API_KEY_SCHEME: []}],
    )
    merged = _with_webhooks(json.loads(schema), _schema_of_webhooks(servers=[Server(url=".")]))
    return json.dumps(_as_the_api_answers(merged), indent=2, ensure_ascii=False) + "\n"


def _schema_of_webhooks(**options: Any) -> dict[str, Any]:
    from notifier.receipts.resolver import app as webhooks  # noqa: PLC0415 - another function's routes

    return dict(json.loads(webhooks.get_openapi_json_schema(title=TITLE, version=VERSION, **options)))


def _with_webhooks(schema: dict[str, Any], webhooks: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the webhook routes of `webhooks`, as vendors call them: no API key, their
    signature headers, their bodies (`notifier.api.routes.webhooks.OPENAPI`)."""
    from notifier.api.routes.webhooks import OPENAPI  # noqa: PLC0415 - see _schema_of_webhooks

    for path, operations in webhooks.get("paths", {}).items():
        for operation in operations.values():
            operation.update(OPENAPI.get(path, {}))
        schema.setdefault("paths", {})[path] = operations
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in webhooks.get("components", {}).get("schemas", {}).items():
        components.setdefault(name, model)
    return schema


@cache
def page(app: APIGatewayRestResolver) -> str:
    """The Swagger UI page for `app`'s document, its script and style inline (no CDN: the local stack
    is offline)."""
    from aws_lambda_powertools.event_handler import openapi  # noqa: PLC0415 - see the module doc
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import (  # noqa: PLC0415
        generate_swagger_html,
    )

    assets = Path(openapi.__file__).parent / "swagger_ui"
    script = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    style = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    # `</` inside the inline spec would end its <script> element early.
    return generate_swagger_html(document(app).replace("</", "<\\/"), script, style, "", None)


def _as_the_api_answers(schema: dict[str, Any]) -> dict[str, Any]:
    validation_error = "#/components/schemas/HTTPValidationError"
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") == (
                validation_error
            ):
                del operation["responses"]["422"]
            # Powertools describes a body for every answer (the handler's return type); a 204 has none.
            operation.get("responses", {}).get("204", {}).pop("content", None)
    text = json.dumps(schema.get("paths", {}))
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in text:
            components.pop(name, None)
    return schema
