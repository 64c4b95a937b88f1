"""The two webhook requests, from the verified signature to the answer: what the routes of
`notifier.api.routes.webhooks` call. Nothing is read from the body before its signature is checked."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from notifier import runtime
from notifier.errors import UnauthorizedError
from notifier.models.responses import ReceiptsApplied
from notifier.platform.logs import logger
from notifier.platform.settings import webhook_settings
from notifier.receipts import sendgrid, twilio
from notifier.receipts.ingest import ingest


def sendgrid_events(body: str, headers: dict[str, str]) -> ReceiptsApplied:
    settings = webhook_settings()
    signature = headers.get(sendgrid.SIGNATURE_HEADER.lower())
    timestamp = headers.get(sendgrid.TIMESTAMP_HEADER.lower())
    sendgrid.verify(
        body.encode("utf-8"),
        signature,
        timestamp,
        runtime.verification_keys().sendgrid(),
        max_age_seconds=settings.webhook_max_age_seconds,
    )
    request = _not_replayed("sendgrid", f"{timestamp}\n{signature}", sendgrid.SIGNATURE_HEADER)
    batch = sendgrid.parse(body)
    for problem in batch.invalid[:20]:
        logger.warning("SendGrid event skipped: it cannot be read", extra={"problem": problem})
    answer = ingest(
        "sendgrid",
        batch.receipts,
        runtime.receipt_deps(),
        ignored=batch.ignored,
        invalid=len(batch.invalid),
        request=request,
    )
    logger.info("SendGrid receipts", extra=answer.model_dump())
    return answer


def twilio_callback(event: dict[str, Any], body: str, headers: dict[str, str]) -> ReceiptsApplied:
    form = parse_qs(body, keep_blank_values=True)
    query = event.get("multiValueQueryStringParameters") or {}
    settings = headers.get(twilio.SETTINGS_HEADER.lower())
    url = called_url(event, query)
    signature = headers.get(twilio.SIGNATURE_HEADER.lower())
    twilio.verify(
        url, form, signature, settings, runtime.verification_keys().twilio(twilio.shared_key(settings))
    )
    request = _not_replayed("twilio", f"{url}\n{signature}", twilio.SIGNATURE_HEADER)
    notification_ids = query.get("notification_id") or [None]
    receipt = twilio.parse(form, notification_ids[0], now=datetime.now(UTC))
    receipts = [receipt] if receipt is not None else []
    answer = ingest("twilio", receipts, runtime.receipt_deps(), ignored=1 - len(receipts), request=request)
    logger.info("Twilio receipt", extra=answer.model_dump())
    return answer


def _not_replayed(vendor: str, signed: str, header: str) -> str:
    """The id under which this signed request is remembered once applied; UnauthorizedError when it
    was applied before. A vendor signs each delivery afresh (SendGrid with a new timestamp; Twilio
    retries only what it could not deliver), so the same signature again is a captured request
    played back."""
    request = "request:" + hashlib.sha256(signed.encode()).hexdigest()
    if runtime.receipt_deps().seen.seen(vendor, [request]):
        raise UnauthorizedError({header: "replayed: this signed request was received and applied before"})
    return request


def _domain(context: dict[str, Any]) -> str:
    """The API's domain as the caller named it. An emulator (MiniStack) may leave domainName out of
    the request context: then the API's execute-api host, the one its Outputs name."""
    if context.get("domainName"):
        return str(context["domainName"])
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{context.get('apiId', '')}.execute-api.{region}.{suffix}"


def called_url(event: dict[str, Any], query: dict[str, list[str]]) -> str:
    """The URL Twilio called, which its signature covers: PUBLIC_API_URL and the route's path when the
    stack names it, else as API Gateway saw it (its domain, and the path with the stage or base path)."""
    settings = webhook_settings()
    context = event.get("requestContext") or {}
    base = settings.api_url(str(event.get("path", "")))
    if base is None:
        base = f"https://{_domain(context)}{context.get('path', event.get('path', ''))}"
    pairs = [(name, value) for name, values in query.items() for value in values]
    return f"{base}?{urlencode(pairs)}" if pairs else base
