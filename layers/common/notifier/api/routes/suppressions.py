"""`GET /suppressions`, `GET` and `DELETE /suppressions/{address}`: the addresses nothing is sent to,
reviewed and lifted by an operator (`notifier.stores.suppressions`)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import responses
from notifier.errors import NotFoundError
from notifier.models.channels import Channel
from notifier.models.responses import Suppression, SuppressionPage

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

ADDRESS_PATTERN = r"^(\+[1-9][0-9]{6,14}|[A-Za-z0-9.!$&'*+=^_~-]+@[A-Za-z0-9._-]+)$"
"""An E.164 phone number, or an e-mail address (ASCII) of the characters a path segment carries."""
AddressPath = Annotated[
    str,
    Path(
        pattern=ADDRESS_PATTERN,
        max_length=320,
        description="An e-mail address or an E.164 phone number, percent-encoded as a path segment "
        "(`%40` for @; + may stay as it is).",
    ),
]


@router.get(
    "/suppressions",
    summary="The suppression list, a page at a time",
    tags=["Suppressions"],
    responses=responses({200: (SuppressionPage, "A page of suppressed addresses.")}, (400, 403, 429, 503)),
)
def list_suppressions(
    channel: Annotated[Literal["email", "sms"] | None, Query(description="Only this channel's.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Entries per page.")] = 50,
    after: Annotated[
        str | None, Query(min_length=1, max_length=320, description="The `next` of the previous page.")
    ] = None,
) -> SuppressionPage:
    store = runtime.suppression_store()
    return store.page(limit=limit, after=after, channel=Channel(channel) if channel else None)


@router.get(
    "/suppressions/<address>",
    summary="Whether an address is suppressed, and why",
    tags=["Suppressions"],
    responses=responses({200: (Suppression, "It is: why, and since when.")}, (400, 403, 404, 429, 503)),
)
def get_suppression(address: AddressPath) -> Suppression:
    found = runtime.suppression_store().get(address)
    if found is None:
        raise NotFoundError(f"{address!r} is not suppressed")
    return found


@router.delete(
    "/suppressions/<address>",
    summary="Lift a suppression: notifications are sent to the address again",
    tags=["Suppressions"],
    responses=responses({204: (None, "Lifted.")}, (400, 403, 404, 429, 503)),
)
def delete_suppression(address: AddressPath) -> Response[None]:
    if not runtime.suppression_store().remove(address):
        raise NotFoundError(f"{address!r} is not suppressed")
    return Response(status_code=204)
