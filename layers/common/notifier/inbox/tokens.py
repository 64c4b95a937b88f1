"""Inbox tokens: what an app's backend hands its client so the client may read its own recipient's
inbox (`Authorization: Bearer <token>`, and the WebSocket's `?token=`), and no other.

A token is a JWT (RFC 7519) signed with HMAC-SHA256 (HS256), built here with the standard library:

    base64url(header) "." base64url(claims) "." base64url(HMAC-SHA256(key, header "." claims))

- header: `{"alg": "HS256", "typ": "JWT", "kid": <the key's id>}`;
- claims: `{"sub": <recipient id>, "aud": "notifier-inbox", "iss": <the stack>, "iat", "exp"}`.

It is checked as RFC 8725 (JWT best current practices) asks, in this order: the length and the shape
first (three base64url parts, canonical, no padding); the header's `alg` must be exactly HS256 (never
`none`, never chosen by the token) and its `kid` a key this stack holds; the signature is recomputed
over the bytes received and compared in constant time; only then are the claims read: the audience,
the issuer, integer times, not expired (with `LEEWAY_SECONDS` for clocks that differ), not issued in
the future, and not living longer than a token of this stack may. Keys are kept by id, so a rotated
secret's previous key still checks the tokens it signed until they expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.errors import UnauthorizedError

AUDIENCE = "notifier-inbox"
ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 1024
LEEWAY_SECONDS = 60
"""How far apart this stack's clock and the issuer's may be (RFC 7519 4.1.4: "a few minutes")."""
MIN_KEY_BYTES = 32
"""RFC 7518 3.2: an HS256 key at least as long as the hash's output."""

_PART = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = "Authorization"


class InvalidTokenError(UnauthorizedError):
    """The bearer token is missing, malformed, forged, expired, or not for this inbox."""

    def __init__(self, reason: str) -> None:
        super().__init__({_HEADER: reason})


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    recipient_id: str
    issued_at: datetime
    expires_at: datetime


class InboxTokens:
    """Issues and checks inbox tokens with the keys `keys` (id -> key bytes), signing with
    `signing_key_id`'s."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        signing_key_id: str,
        *,
        issuer: str,
        lifetime: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if signing_key_id not in keys:
            raise ValueError(f"no key {signing_key_id!r} to sign with")
        short = [kid for kid, key in keys.items() if len(key) < MIN_KEY_BYTES]
        if short:
            raise ValueError(f"keys shorter than {MIN_KEY_BYTES} bytes: {short}")
        self.keys = dict(keys)
        self.signing_key_id = signing_key_id
        self.issuer = issuer
        self.lifetime = lifetime
        self.clock = clock

    def issue(self, recipient_id: str) -> IssuedToken:
        now = int(self.clock().timestamp())
        expires = now + int(self.lifetime.total_seconds())
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self.signing_key_id}
        claims = {"sub": recipient_id, "aud": AUDIENCE, "iss": self.issuer, "iat": now, "exp": expires}
        signed = f"{_encode(header)}.{_encode(claims)}"
        signature = _b64(self._mac(self.keys[self.signing_key_id], signed))
        return IssuedToken(f"{signed}.{signature}", datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str | None) -> TokenClaims:
        """The claims of a token this stack issued and that is still valid; InvalidTokenError
        saying why not."""
        if not token:
            raise InvalidTokenError("missing: send Authorization: Bearer <token>")
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidTokenError("not a token of this stack")
        parts = token.split(".")
        if len(parts) != 3 or not all(_PART.match(part) for part in parts):
            raise InvalidTokenError("not a token of this stack")
        header = _object(parts[0])
        if header.get("alg") != ALGORITHM or header.get("typ") != "JWT":
            raise InvalidTokenError("not a token of this stack")
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError("signed with a key this stack does not hold")
        expected = self._mac(key, f"{parts[0]}.{parts[1]}")
        if not hmac.compare_digest(expected, _decode(parts[2])):
            raise InvalidTokenError("the signature does not match")
        return self._claims(_object(parts[1]))

    def _claims(self, claims: dict[str, Any]) -> TokenClaims:
        subject = claims.get("sub")
        if claims.get("aud") != AUDIENCE or claims.get("iss") != self.issuer:
            raise InvalidTokenError("not a token for this inbox")
        issued, expires = _time(claims.get("iat")), _time(claims.get("exp"))
        if not (isinstance(subject, str) and subject) or issued is None or expires is None:
            raise InvalidTokenError("not a token of this stack")
        now = self.clock().timestamp()
        if expires <= now - LEEWAY_SECONDS:
            raise InvalidTokenError("expired")
        if issued > now + LEEWAY_SECONDS:
            raise InvalidTokenError("issued in the future")
        if expires - issued > self.lifetime.total_seconds() + LEEWAY_SECONDS:
            raise InvalidTokenError("lives longer than this stack's tokens")
        return TokenClaims(subject, datetime.fromtimestamp(issued, UTC), datetime.fromtimestamp(expires, UTC))

    @staticmethod
    def _mac(key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _time(value: Any) -> int | None:
    """A claim's Unix time: a non-negative integer (not a bool, a float or text), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40:
        return value
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _encode(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def _decode(part: str) -> bytes:
    """Strict base64url without padding: a part that does not encode back to itself is refused, so
    no two spellings of one token exist."""
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("not a token of this stack") from None
    if _b64(data) != part:
        raise InvalidTokenError("not a token of this stack")
    return data


def _object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_decode(part))
    except (ValueError, UnicodeDecodeError):
        raise InvalidTokenError("not a token of this stack") from None
    if not isinstance(value, dict):
        raise InvalidTokenError("not a token of this stack")
    return value
