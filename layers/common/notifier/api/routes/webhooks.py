"""`POST /webhooks/sendgrid` and `POST /webhooks/twilio`: the vendors' delivery receipts.

Served by the webhooks function, not the publish function, so the publish artifact stays free of what
checks the signatures. They need no API key (vendors cannot send it): each request is refused (401)
unless it carries its vendor's valid signature, and is then answered 200 whatever its receipts say,
so the vendor does not send it again (see `notifier.receipts.ingest`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier.api.docs import responses
from notifier.models.responses import ReceiptsApplied

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

_TAGS = ["Delivery receipts"]
_ANSWERED = (ReceiptsApplied, "Verified and applied; the counts say what each receipt did.")


@router.post(
    "/webhooks/sendgrid",
    summary="SendGrid's signed Event Webhook",
    description="Point SendGrid's Event Webhook here with the Signed Event Webhook switched on "
    "(docs/vendors.md). `delivered` makes a notification DELIVERED; `bounce` and `dropped` BOUNCED; "
    "`open` and `click` are kept; a hard bounce, a spam report or an unsubscribe suppresses the address.",
    tags=_TAGS,
    responses=responses({200: _ANSWERED}, (400, 401, 413, 415, 429, 503)),
)
def sendgrid_events() -> ReceiptsApplied:
    from notifier.receipts.webhooks import sendgrid_events as receive  # noqa: PLC0415 - the webhooks function's

    return receive(router.current_event.body or "", _headers())


@router.post(
    "/webhooks/twilio",
    summary="Twilio's message status callback",
    description="Every SMS this stack sends names this route as its StatusCallback. `delivered` makes "
    "the notification DELIVERED; `undelivered` and `failed` BOUNCED with the error code; a number that "
    "cannot receive SMS, or that replied STOP, is suppressed.",
    tags=_TAGS,
    responses=responses({200: _ANSWERED}, (400, 401, 413, 415, 429, 503)),
)
def twilio_callback() -> ReceiptsApplied:
    from notifier.receipts.webhooks import twilio_callback as receive  # noqa: PLC0415 - see above

    event = router.current_event
    return receive(event.raw_event, event.body or "", _headers())


def _headers() -> dict[str, str]:
    return {name.lower(): value for name, value in (router.current_event.headers or {}).items()}


_EVENT_FIELDS: dict[str, Any] = {
    "event": {"type": "string", "examples": ["delivered", "bounce", "open"]},
    "email": {"type": "string"},
    "timestamp": {"type": "integer", "description": "Unix time of the event."},
    "sg_event_id": {"type": "string"},
    "sg_message_id": {"type": "string"},
    "notification_id": {"type": "string", "description": "Ours, sent as a custom_arg with every e-mail."},
    "reason": {"type": "string"},
    "type": {"type": "string", "description": "For `bounce`: `bounce` (hard) or `blocked` (soft)."},
}
_SIGNED = {"description": "Missing or wrong: 401.", "schema": {"type": "string"}}

OPENAPI: dict[str, dict[str, Any]] = {
    "/webhooks/sendgrid": {
        "security": [],
        "parameters": [
            {"name": "X-Twilio-Email-Event-Webhook-Signature", "in": "header", "required": True, **_SIGNED},
            {
                "name": "X-Twilio-Email-Event-Webhook-Timestamp",
                "in": "header",
                "required": True,
                "description": "Unix time the request was signed at; older than WebhookMaxAgeSeconds: 401.",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": _EVENT_FIELDS,
                            "additionalProperties": True,
                        },
                    }
                }
            },
        },
    },
    "/webhooks/twilio": {
        "security": [],
        "parameters": [
            {"name": "X-Twilio-Signature", "in": "header", "required": True, **_SIGNED},
            {
                "name": "notification_id",
                "in": "query",
                "required": False,
                "description": "Ours: the StatusCallback URL of every SMS names it.",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "MessageSid": {"type": "string"},
                            "MessageStatus": {"type": "string", "examples": ["delivered", "undelivered"]},
                            "ErrorCode": {"type": "string"},
                            "To": {"type": "string"},
                            "From": {"type": "string"},
                            "AccountSid": {"type": "string"},
                        },
                        "additionalProperties": True,
                    }
                }
            },
        },
    },
}
"""What the webhook routes' operations say beyond what the resolver knows of them: no API key, the
vendor's signature headers, and the body each vendor posts."""
