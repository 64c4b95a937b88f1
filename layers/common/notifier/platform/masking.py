"""Masking of recipients' addresses: e-mail addresses, phone numbers and push tokens.

Vendors echo the address in their error texts (SendGrid, Twilio, FCM), and so can exceptions and
tracebacks; none of it may reach a log line or the status table unmasked. Two tools:

- `mask_email`, `mask_phone`, `mask_token` (and `mask_address` by channel) mask a value known to be
  an address, for a call site that logs one on purpose;
- `scrub` finds and masks them inside any free text. The Logger runs it on every line it writes
  (`platform.logs`) and the status store on every reason it keeps (`stores.status`).

A masked form keeps just enough to tell addresses apart while debugging, never the whole value:

- e-mail: `john.doe@example.co.uk` -> `j***@e***.uk`: the first character of the local part and of
  the domain, and the top-level domain (`j***@e***` when there is none);
- phone: `+1 (415) 555-0100` -> `+14*******00`: "+", the first two and the last two digits, and one
  `*` for each other digit;
- push token: a 163-character FCM token -> `cZp7Qx...(163)`: its first 6 characters (at most a
  quarter of it), "..." and its length.

Each form is stable (the same address always masks alike, so log lines can be correlated), and
`scrub` leaves masked forms alone, so scrubbing twice changes nothing.

What `scrub` recognises:

- **e-mail addresses**: `local@domain.tld`, also URL-encoded (`local%40domain.tld`). The local part
  is the run of `[A-Za-z0-9._%+-]` before the `@` (at most 64 characters), the domain the run of
  labels after it. The domain needs no top-level domain, so that an address cut short by a
  truncation upstream (`john.doe@exa...`) is still masked (as `j***@e***`); `user@localhost` is
  masked too. An `@` with nothing of the local part before it is left alone: Python decorators
  (`@logger.inject_lambda_context`), JSON-LD keys (`"@type"`).
- **phone numbers** in the E.164 style: `+` (or `%2B`) and 7 to 15 digits, the first not 0 (no
  country code starts with 0, while UTC offsets such as `+0000` do), with up to two of ` .-()`
  between digits as people write them (`+1 (415) 555-0100`, `+44 20 7946 0958`). A `+` that follows
  a letter, a digit, `_`, `+` or `/` is base64 or an exponent (`1e+10`), not a number. Numbers
  without the `+` (national formats) are not recognised.
- **FCM registration tokens**: `<20+ chars>:<100+ chars>` and legacy `APA91b<64+ chars>`, of
  `[A-Za-z0-9_-]`; **APNs device tokens**: 64 hexadecimal digits. Either must stand alone (not be
  part of a longer run of those characters). A SHA-256 hex digest looks exactly like an APNs token
  and is masked too.

Left intact, because none of them has the shape above: UUIDs (SQS message ids, Lambda request ids),
X-Ray trace ids, ARNs and 12-digit account ids, ISO timestamps with offsets, HTTP status codes and
durations.

`scrub` runs on every log line, so the common case (nothing to mask) is a few substring checks, one
regex that skips from "+" to "+" and one search in translated bytes: about 2 microseconds for a
400-byte JSON line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

# ---------------------------------------------------------------------------------------- masks

_STARS = "***"


def mask_email(value: str) -> str:
    """`john.doe@example.co.uk` -> `j***@e***.uk`; a value that is no address -> `***`."""
    local, at, domain = value.replace("%40", "@").rpartition("@")
    if not at or not local or not domain:
        return _STARS
    labels = domain.split(".")
    masked_domain = f"{domain[0]}{_STARS}" + (f".{labels[-1]}" if len(labels) > 1 and labels[-1] else "")
    return f"{local[0]}{_STARS}@{masked_domain}"


def mask_phone(value: str) -> str:
    """`+1 (415) 555-0100` -> `+14*******00`: "+", the first two and the last two digits."""
    digits = "".join(c for c in value if c in string.digits)
    if len(digits) < 5:  # too short to show any of it
        return "+" + "*" * max(len(digits), 3)
    return f"+{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_token(value: str) -> str:
    """A push token -> its first 6 characters (at most a quarter of it), "..." and its length."""
    shown = min(6, len(value) // 4)
    return f"{value[:shown]}...({len(value)})"


_BY_KIND: dict[str, Callable[[str], str]] = {
    "email": mask_email,
    "sms": mask_phone,
    "phone": mask_phone,
    "push": mask_token,
    "token": mask_token,
    # An in-app address is the recipient id, which every status and log line names anyway: no contact.
    "inapp": str,
}


def mask_address(kind: str, value: str) -> str:
    """Mask `value` as the address of `kind`: a channel ("email", "sms", "push", "inapp"; a `Channel`
    is one) or "phone" / "token". An unknown kind masks as a token."""
    return _BY_KIND.get(str(kind), mask_token)(value)


# ------------------------------------------------------------------------------------ recognition

_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")
_AT = re.compile(r"@|%40")
# No top-level domain required: an address cut short ("john.doe@exa..." in a truncated error text
# or a pydantic error's input_value) must be masked too.
_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*")
_MAX_LOCAL = 64

_NUMBER = r"\(?[1-9](?:[ .()-]{0,2}[0-9]){6,14}(?![\w+])"
# The lookbehind comes after the literal "+", so that the regex engine can skip from "+" to "+"
# (every log line has one, in its timestamp's offset). URL-encoded ("%2B") numbers are rare: their
# own regex runs only on text that has a "%2".
_PHONE = re.compile(r"\+(?<![\w+/]\+)" + _NUMBER)
_ENCODED_PHONE = re.compile(r"%2[Bb](?<![\w+/]%2[Bb])" + _NUMBER)
# `_PHONE` without its boundaries, for `might_need_scrubbing`: "\n+15005550001" in JSON (an escaped
# newline before the number) must still count.
_LOOSE_PHONE = re.compile(r"\+\(?[1-9](?:[ .()-]{0,2}[0-9]){6}")

_ID_CHARS = "A-Za-z0-9_-"
_TOKEN = re.compile(
    rf"(?<![{_ID_CHARS}])"
    rf"(?:[{_ID_CHARS}]{{20,}}:[{_ID_CHARS}]{{100,}}"  # FCM: <instance id>:<token>
    rf"|APA91b[{_ID_CHARS}]{{64,}}"  # legacy FCM / GCM
    r"|[0-9A-Fa-f]{64})"  # APNs
    rf"(?![{_ID_CHARS}])"
)
# Every token holds a run of at least 64 of `_ID_CHARS`. Finding one in the bytes translated to
# "a" (one of them) and " " (any other) is a fast C-level search, where a regex would try every
# position of every long identifier (UUIDs, ARNs) in the line.
_TOKEN_BYTE = frozenset((string.ascii_letters + string.digits + "_-").encode())
_RUNS = bytes(0x61 if b in _TOKEN_BYTE else 0x20 for b in range(256))
_LONG_RUN = b"a" * 64


def scrub(text: str) -> str:
    """`text` with every e-mail address, phone number and push token in it masked (see the module's
    docstring for what is recognised and how it is masked)."""
    if "@" in text or "%40" in text:
        text = _scrub_emails(text)
    if "+" in text:
        text = _PHONE.sub(_phone, text)
    if "%2" in text:
        text = _ENCODED_PHONE.sub(_encoded_phone, text)
    if _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_RUNS):
        text = _TOKEN.sub(_token, text)
    return text


def _phone(match: re.Match[str]) -> str:
    return mask_phone(match.group())


def _encoded_phone(match: re.Match[str]) -> str:
    return mask_phone(match.group()[3:])  # without "%2B", whose 2 is no digit of the number


def _token(match: re.Match[str]) -> str:
    return mask_token(match.group())


def _scrub_emails(text: str) -> str:
    """Mask each `local@domain`, found from its "@" outwards (a regex would try every position as
    the start of a local part)."""
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    for at in _AT.finditer(text):
        if at.start() < done:
            continue
        start = at.start()
        while start > done and at.start() - start < _MAX_LOCAL and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        domain = _DOMAIN.match(text, at.end())
        if start == at.start() or domain is None:
            continue
        parts += (text[done:start], mask_email(f"{text[start : at.start()]}@{domain.group()}"))
        done = domain.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def might_need_scrubbing(text: str) -> bool:
    """False only when `scrub` of any piece of `text` changes nothing: a cheap, looser test, for text
    assembled from pieces (such as a JSON document, whose escapes can hide a piece's boundaries)."""
    return (
        "@" in text
        or "%40" in text
        or "%2" in text
        or (_LOOSE_PHONE.search(text) is not None)
        or _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_RUNS)
    )
