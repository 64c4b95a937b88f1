"""Inbox tokens: issued and checked as RFC 7519/8725 say, interoperable with a JWT library (PyJWT
decodes ours, and ours checks PyJWT's), and every forged, altered, expired, misdirected or malformed
token refused with the reason, naming the Authorization header."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from notifier.inbox.tokens import (
    AUDIENCE,
    InboxTokens,
    InvalidTokenError,
    bearer,
)

KEY = b"k" * 48
OTHER_KEY = b"o" * 48
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def tokens(*, now: datetime = NOW, keys: dict[str, bytes] | None = None, kid: str = "k1") -> InboxTokens:
    return InboxTokens(keys or {"k1": KEY}, kid, issuer="notifier", lifetime=HOUR, clock=lambda: now)


def b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def refused(token: str | None, checker: InboxTokens | None = None) -> str:
    with pytest.raises(InvalidTokenError) as error:
        (checker or tokens()).verify(token)
    assert list(error.value.problems) == ["Authorization"]
    return error.value.problems["Authorization"]


def test_a_token_names_its_recipient_and_expires_after_the_lifetime():
    issued = tokens().issue("ana")

    claims = tokens(now=NOW + timedelta(minutes=59)).verify(issued.token)

    assert claims.recipient_id == "ana"
    assert issued.expires_at == claims.expires_at == NOW + HOUR


def test_a_jwt_library_reads_our_token_and_we_read_its():
    issued = tokens().issue("ana")
    decoded = jwt.decode(
        issued.token,
        KEY,
        algorithms=["HS256"],
        audience=AUDIENCE,
        issuer="notifier",
        options={"verify_exp": False, "verify_iat": False},
    )
    theirs = jwt.encode(
        {
            "sub": "ben",
            "aud": AUDIENCE,
            "iss": "notifier",
            "iat": int(NOW.timestamp()),
            "exp": int((NOW + HOUR).timestamp()),
        },
        KEY,
        algorithm="HS256",
        headers={"kid": "k1"},
    )

    assert decoded["sub"] == "ana"
    assert jwt.get_unverified_header(issued.token) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    assert tokens().verify(theirs).recipient_id == "ben"


def test_an_expired_token_is_refused_after_a_minute_of_clock_skew():
    token = tokens().issue("ana").token

    tokens(now=NOW + HOUR + timedelta(seconds=59)).verify(token)
    assert refused(token, tokens(now=NOW + HOUR + timedelta(seconds=61))) == "expired"


def test_a_token_issued_in_the_future_is_refused():
    token = tokens(now=NOW + timedelta(minutes=5)).issue("ana").token

    assert refused(token) == "issued in the future"


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_token_changed_anywhere_is_refused(where):
    parts = tokens().issue("ana").token.split(".")
    if where == 1:  # another recipient
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
        parts[1] = b64({**claims, "sub": "ben"})
    else:
        parts[where] = parts[where][:-2] + ("AA" if parts[where][-2:] != "AA" else "BB")

    assert refused(".".join(parts)) in {
        "the signature does not match",
        "not a token of this stack",
        "signed with a key this stack does not hold",
    }


def test_a_token_signed_with_another_key_is_refused():
    forged = tokens(keys={"k1": OTHER_KEY}).issue("ana").token

    assert refused(forged) == "the signature does not match"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "JWT", "kid": "k1"},
        {"alg": "HS512", "typ": "JWT", "kid": "k1"},
        {"alg": "hs256", "typ": "JWT", "kid": "k1"},
        {"alg": "HS256", "typ": "at+jwt", "kid": "k1"},
        {"alg": "HS256", "typ": "JWT"},
        {"alg": "HS256", "typ": "JWT", "kid": ["k1"]},
        {"alg": "HS256", "typ": "JWT", "kid": "k9"},
    ],
)
def test_the_header_decides_nothing_but_which_key_of_ours(header):
    """No `none`, no other algorithm, no key the stack does not hold (RFC 8725 3.1)."""
    _, claims, signature = tokens().issue("ana").token.split(".")

    refused(f"{b64(header)}.{claims}.{signature}")


def test_a_token_alg_none_without_a_signature_is_refused():
    claims = {"sub": "ana", "aud": AUDIENCE, "iss": "notifier", "iat": 1, "exp": 2**31}

    refused(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "someone-else"}, "not a token for this inbox"),
        ({"iss": "another-stack"}, "not a token for this inbox"),
        ({"sub": ""}, "not a token of this stack"),
        ({"sub": 7}, "not a token of this stack"),
        ({"exp": "2999"}, "not a token of this stack"),
        ({"iat": True}, "not a token of this stack"),
        ({"exp": 1.5e12}, "not a token of this stack"),
        ({"exp": int((NOW + 10 * HOUR).timestamp())}, "lives longer than this stack's tokens"),
    ],
)
def test_claims_signed_correctly_but_not_ours_are_refused(change, reason):
    claims = {
        "sub": "ana",
        "aud": AUDIENCE,
        "iss": "notifier",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + HOUR).timestamp()),
        **change,
    }
    token = jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": "k1"})

    assert refused(token) == reason


@pytest.mark.parametrize(
    "token",
    [None, "", "abc", "a.b", "a.b.c.d", "a.b.c", "a b.c.d", "é.é.é", "a" * 2000, "a=.b.c", "e30.e30.e30"],
)
def test_a_malformed_token_is_refused_without_a_traceback(token):
    refused(token)


def test_a_part_in_a_second_spelling_is_refused():
    """base64url without padding has one spelling per value: 32 bytes take 43 characters, and the
    last one's two low bits carry nothing. Setting one gives the same bytes, spelled otherwise."""
    header, claims, signature = tokens().issue("ana").token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = signature[:-1] + alphabet[alphabet.index(signature[-1]) ^ 1]
    decode = lambda part: base64.urlsafe_b64decode(part + "=")  # noqa: E731

    assert decode(twin) == decode(signature)
    assert refused(f"{header}.{claims}.{twin}") == "not a token of this stack"


def test_the_previous_key_still_checks_its_tokens_after_a_rotation():
    before = tokens(keys={"k1": KEY}, kid="k1").issue("ana").token
    rotated = tokens(keys={"k1": KEY, "k2": OTHER_KEY}, kid="k2")

    assert rotated.verify(before).recipient_id == "ana"
    assert rotated.verify(rotated.issue("ana").token).recipient_id == "ana"
    assert jwt.get_unverified_header(rotated.issue("ana").token)["kid"] == "k2"


def test_a_key_shorter_than_the_hash_is_refused_at_construction():
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        InboxTokens({"k1": b"short"}, "k1", issuer="notifier", lifetime=HOUR)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        (None, None),
        ("", None),
    ],
)
def test_the_bearer_token_of_an_authorization_header(header, token):
    assert bearer(header) == token
