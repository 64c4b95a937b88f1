"""SendGrid's Event Webhook: the signature check and the events, read into receipts.

SendGrid signs each POST with ECDSA on P-256 over SHA-256 of the value of
`X-Twilio-Email-Event-Webhook-Timestamp` followed by the raw body bytes; the signature (DER, base64) is
in `X-Twilio-Email-Event-Webhook-Signature`, and the public key to check it with is shown once the
Signed Event Webhook is switched on (Settings > Mail Settings > Event Webhook), base64 of its DER
(https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
The body is a JSON array of events (up to 768 KB); each carries our `custom_args` at its top level
(`notification_id`) and its own `sg_event_id`, by which a repeated event is recognised.

| event | receipt |
|---|---|
| `delivered` | DELIVERED |
| `bounce` (`type` bounce, or none) | BOUNCED with the reason; the address is suppressed |
| `bounce` (`type` blocked), `deferred` | the reason is kept, the status stays SENT |
| `dropped` | BOUNCED with the reason; suppressed when SendGrid dropped it for the address itself |
| `open`, `click` | `opened_at`, `clicked_at` |
| `spamreport` | `complained_at`; the address is suppressed |
| `unsubscribe`, `group_unsubscribe` | `unsubscribed_at`; the address is suppressed |
| `processed`, `group_resubscribe`, anything else | ignored |
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from notifier.errors import ConfigurationError, InvalidBodyError, UnauthorizedError
from notifier.models.channels import Channel
from notifier.receipts.models import Receipt, ReceiptKind

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
FUTURE_SKEW_SECONDS = 60
"""A timestamp this far ahead of our clock is still taken (the two clocks differ a little)."""

_DROPPED_FOR_THE_ADDRESS = ("bounced address", "unsubscribed address", "spam reporting address", "invalid")


def load_verification_key(text: str) -> EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 of the DER public key) or in PEM."""
    return _load_key(text.strip())


@lru_cache(maxsize=4)
def _load_key(text: str) -> EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - the webhooks function's only
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_der_public_key,
        load_pem_public_key,
    )

    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise ConfigurationError("the SendGrid webhook verification key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigurationError("the SendGrid webhook verification key is not an ECDSA P-256 key")
    return key


def verify(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    key: EllipticCurvePublicKey | None,
    *,
    max_age_seconds: int,
    now: datetime | None = None,
) -> None:
    """Raise UnauthorizedError unless `signature` is SendGrid's over `timestamp` and `body`, and
    `timestamp` is at most `max_age_seconds` old."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - see load_verification_key
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    if not signature:
        raise UnauthorizedError({SIGNATURE_HEADER: "missing"})
    if not timestamp:
        raise UnauthorizedError({TIMESTAMP_HEADER: "missing"})
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise UnauthorizedError({TIMESTAMP_HEADER: "not a Unix time in seconds"})
    age = (now or datetime.now(UTC)).timestamp() - int(timestamp)
    if age > max_age_seconds:
        raise UnauthorizedError({TIMESTAMP_HEADER: f"older than {max_age_seconds} seconds"})
    if age < -FUTURE_SKEW_SECONDS:
        raise UnauthorizedError({TIMESTAMP_HEADER: "in the future"})
    if key is None:
        raise UnauthorizedError({SIGNATURE_HEADER: "this stack has no SendGrid webhook verification key"})
    try:
        decoded = base64.b64decode(signature, validate=True)
        key.verify(decoded, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise UnauthorizedError({SIGNATURE_HEADER: "does not match the body and timestamp"}) from None


@dataclass
class Batch:
    """The receipts of one POST, and what was not one."""

    receipts: list[Receipt] = field(default_factory=list)
    ignored: int = 0
    """Events that change nothing here (`processed`, ...)."""
    invalid: list[str] = field(default_factory=list)
    """Why each event that could not be read was not."""


def parse(body: bytes | str) -> Batch:
    """The receipts of a verified body. A body that is not a JSON array is a 400; an event in it that
    cannot be read is skipped and counted, so one odd event does not make SendGrid resend the rest."""
    try:
        events = json.loads(body)
    except ValueError:
        raise InvalidBodyError({"body": "not valid JSON"}) from None
    if not isinstance(events, list):
        raise InvalidBodyError({"body": "not a JSON array of events"})
    batch = Batch()
    for index, event in enumerate(events):
        try:
            receipt = _receipt(event)
        except _UnreadableEventError as exc:
            batch.invalid.append(f"[{index}]: {exc}")
            continue
        if receipt is None:
            batch.ignored += 1
        else:
            batch.receipts.append(receipt)
    return batch


class _UnreadableEventError(ValueError):
    pass


def _receipt(event: Any) -> Receipt | None:
    if not isinstance(event, dict):
        raise _UnreadableEventError("not an object")
    name = _text(event, "event", required=True) or ""
    kind, suppress = _meaning(name, event)
    if kind is None:
        return None
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool) or not 0 <= timestamp < 1e11:
        raise _UnreadableEventError("timestamp: not a Unix time")
    reason = _reason(event)
    return Receipt(
        kind=kind,
        channel=Channel.EMAIL,
        notification_id=_text(event, "notification_id"),
        occurred_at=datetime.fromtimestamp(timestamp, UTC),
        event_id=_text(event, "sg_event_id"),
        address=_text(event, "email"),
        reason=f"sendgrid {name}: {reason}" if reason else f"sendgrid {name}",
        provider_message_id=_message_id(_text(event, "sg_message_id")),
        suppress=suppress,
        source=f"sendgrid {name}" + (f" ({event['type']})" if isinstance(event.get("type"), str) else ""),
    )


_PLAIN: dict[str, tuple[ReceiptKind, bool]] = {
    "delivered": (ReceiptKind.DELIVERED, False),
    "deferred": (ReceiptKind.DEFERRED, False),
    "open": (ReceiptKind.OPENED, False),
    "click": (ReceiptKind.CLICKED, False),
    "spamreport": (ReceiptKind.COMPLAINED, True),
    "unsubscribe": (ReceiptKind.UNSUBSCRIBED, True),
    "group_unsubscribe": (ReceiptKind.UNSUBSCRIBED, True),
}


def _meaning(name: str, event: dict[str, Any]) -> tuple[ReceiptKind | None, bool]:
    """The receipt an event is, and whether its address is to be suppressed."""
    if name == "bounce":
        if event.get("type") == "blocked":  # a soft bounce: the receiving server refused for now
            return ReceiptKind.DEFERRED, False
        return ReceiptKind.BOUNCED, True
    if name == "dropped":
        return ReceiptKind.BOUNCED, str(event.get("reason", "")).lower().startswith(_DROPPED_FOR_THE_ADDRESS)
    return _PLAIN.get(name, (None, False))


def _reason(event: dict[str, Any]) -> str | None:
    for key in ("reason", "response"):
        value = event.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:500]
    return None


def _text(event: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = event.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise _UnreadableEventError(f"{key}: not a string")
    return value


def _message_id(sg_message_id: str | None) -> str | None:
    """The X-Message-Id the send answered: SendGrid's event message id is it, then `.filter...`."""
    return sg_message_id.split(".", 1)[0] if sg_message_id else None
