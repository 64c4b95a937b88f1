"""Twilio's message status callbacks: the signature check and the callback, read into a receipt.

Every SMS this service sends names `{PUBLIC_API_URL}/webhooks/twilio?notification_id=<id>` as its
`StatusCallback`, so a callback says whose status it is. Twilio POSTs a form (`MessageSid`,
`MessageStatus`, `ErrorCode`, `To`, ...) and signs it in `X-Twilio-Signature`: base64 of HMAC-SHA1,
keyed with the account's auth token, over the full URL it called followed by each form parameter's
name and value, sorted by name (https://www.twilio.com/docs/usage/security#validating-requests).
With `X-Twilio-Webhooks-Signature-Settings` (`key=<id>,algorithm=HMAC_SHA256`), the request was signed
with that webhook SharedKey instead (kept in the Twilio credentials' `webhook_shared_keys`), and with
the algorithm it names.
This is what the Twilio SDK's `RequestValidator` computes (the tests check ours against it), without
loading the SDK into this function; like it, the URL is tried with and without its default port.

| MessageStatus | receipt |
|---|---|
| `delivered` | DELIVERED |
| `undelivered`, `failed` | BOUNCED with the error code; the number is suppressed (see below) |
| `read` (WhatsApp, RCS) | `opened_at` |
| `queued`, `sending`, `sent`, `accepted`, `scheduled`, anything else | nothing changes |

A number is suppressed when it cannot receive SMS (30005 unknown handset, 30006 landline or
unreachable carrier, 21211 invalid, 21614 not a mobile) or its owner replied STOP (21610).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from notifier.errors import UnauthorizedError
from notifier.models.channels import Channel
from notifier.receipts.models import Receipt, ReceiptKind

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
UNREACHABLE_NUMBER_CODES = frozenset({30005, 30006, 21211, 21614})
"""Unknown handset, landline or unreachable carrier, invalid number, not a mobile number."""
OPTED_OUT_CODES = frozenset({21610})
"""The recipient replied STOP."""
ERROR_MEANINGS = {
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
    30008: "unknown error",
    21211: "invalid 'To' phone number",
    21610: "the recipient replied STOP",
    21614: "not a mobile number",
}

Form = Mapping[str, Sequence[str]]


def signature(token: str, url: str, form: Form, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature of a POST of `form` to `url`."""
    digest = _HASHES[algorithm.upper()]
    text = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    mac = hmac.new(token.encode(), text.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def verify(
    url: str, form: Form, signature_header: str | None, settings_header: str | None, token: str | None
) -> None:
    """Raise UnauthorizedError unless `signature_header` is Twilio's for this POST."""
    if not signature_header:
        raise UnauthorizedError({SIGNATURE_HEADER: "missing"})
    algorithm = _algorithm(settings_header)
    if algorithm not in _HASHES:
        raise UnauthorizedError({SETTINGS_HEADER: f"unsupported algorithm {algorithm!r}"})
    if token is None:
        key = shared_key(settings_header)
        if key is not None:
            raise UnauthorizedError({SETTINGS_HEADER: f"this stack has no webhook SharedKey {key!r}"})
        raise UnauthorizedError({SIGNATURE_HEADER: "this stack has no Twilio auth token to check it with"})
    for candidate in _with_and_without_port(url):
        if hmac.compare_digest(signature(token, candidate, form, algorithm), signature_header.strip()):
            return
    raise UnauthorizedError({SIGNATURE_HEADER: "does not match the URL and parameters"})


def _algorithm(settings_header: str | None) -> str:
    return (_setting(settings_header, "algorithm") or "HMAC_SHA1").upper()


def shared_key(settings_header: str | None) -> str | None:
    """The id of the webhook SharedKey the request was signed with, when it was (else the auth
    token signed it)."""
    return _setting(settings_header, "key")


def _setting(settings_header: str | None, wanted: str) -> str | None:
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == wanted and value.strip():
            return value.strip()
    return None


def _with_and_without_port(url: str) -> list[str]:
    """Twilio signs the URL as it called it; whether that named the default port is not certain."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    bare = urlunsplit(parts._replace(netloc=host))
    ported = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    return [url] + [u for u in (bare, ported) if u != url]


def parse(form: Form, notification_id: str | None, *, now: datetime | None = None) -> Receipt | None:
    """The receipt a verified callback is, or None when it changes nothing."""
    status = _one(form, "MessageStatus") or _one(form, "SmsStatus")
    sid = _one(form, "MessageSid") or _one(form, "SmsSid")
    code_text = _one(form, "ErrorCode")
    code = int(code_text) if code_text and code_text.isdigit() else None
    reason = f"twilio {status}" + (f": error {code}" if code else "")
    if code in ERROR_MEANINGS:
        reason += f" ({ERROR_MEANINGS[code]})"
    match status:
        case "delivered":
            kind, suppress = ReceiptKind.DELIVERED, False
        case "undelivered" | "failed":
            kind = ReceiptKind.BOUNCED
            suppress = code in UNREACHABLE_NUMBER_CODES or code in OPTED_OUT_CODES
        case "read":
            kind, suppress = ReceiptKind.OPENED, False
        case _:
            return None
    return Receipt(
        kind=kind,
        channel=Channel.SMS,
        notification_id=notification_id,
        occurred_at=now or datetime.now(UTC),
        # One callback per status of a message: a repeat of it is recognised by this.
        event_id=f"{sid}:{status}" if sid else None,
        address=_one(form, "To"),
        reason=reason,
        provider_message_id=sid,
        suppress=suppress,
        source=f"twilio {code}" if code else f"twilio {status}",
    )


def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None
