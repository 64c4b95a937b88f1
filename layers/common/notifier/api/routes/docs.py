"""`GET /openapi.json` and `GET /docs`: the API's contract and its Swagger UI page (ApiDocs=Enabled)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier.api import docs
from notifier.errors import NotFoundError
from notifier.platform.settings import publish_settings


def router_for(app: APIGatewayRestResolver) -> APIGatewayRouter:
    """The documentation routes of `app`, whose routes they describe."""
    router = APIGatewayRouter()  # type: ignore[no-untyped-call]

    @router.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        _switched_on()
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=docs.document(app))

    @router.get("/docs", include_in_schema=False)
    def docs_page() -> Response[str]:
        if (router.current_event.query_string_parameters or {}).get("format") == "json":
            return openapi_document()  # where the page says its document is
        _switched_on()
        return Response(status_code=200, content_type="text/html; charset=utf-8", body=docs.page(app))

    return router


def _switched_on() -> None:
    if publish_settings().api_docs != "Enabled":
        raise NotFoundError("the API documentation is switched off (ApiDocs=Disabled)")
