"""The FCM provider reads its service account's key without OpenSSL's slow RSA key check, so its own
checks must refuse what that check refused: keys whose numbers disagree, keys that are not RSA or
are too small, and anything that is not a key, each with an error naming the credentials only."""

from __future__ import annotations

import base64
from dataclasses import astuple, dataclass, replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from devstack.fakes.fcm import service_account_key
from notifier.errors import ConfigurationError
from notifier.providers.fcm_push import FcmConfig, FcmProvider

PROJECT = "notifier-test"
CLIENT_EMAIL = f"firebase-adminsdk@{PROJECT}.iam.gserviceaccount.com"
UNUSABLE = f"credentials {CLIENT_EMAIL!r} are not usable: private_key"


@dataclass(frozen=True)
class Numbers:
    """An RSA private key's numbers in PKCS #1 order, any of which a test may spoil."""

    n: int
    e: int
    d: int
    p: int
    q: int
    dmp1: int
    dmq1: int
    iqmp: int

    @classmethod
    def of(cls, key: rsa.RSAPrivateKey) -> Numbers:
        x = key.private_numbers()
        return cls(x.public_numbers.n, x.public_numbers.e, x.d, x.p, x.q, x.dmp1, x.dmq1, x.iqmp)

    def pem(self) -> str:
        """A PKCS #1 `RSA PRIVATE KEY` PEM of these numbers, written by hand: cryptography refuses
        to write a key whose numbers disagree."""
        der = _der(0x30, b"".join(_der_integer(i) for i in (0, *astuple(self))))
        body = base64.encodebytes(der).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----", ""])


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def numbers() -> Numbers:
    return Numbers.of(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def other_numbers() -> Numbers:
    return Numbers.of(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def build_provider(private_key: str) -> FcmProvider:
    account = {**service_account_key(PROJECT), "private_key": private_key}
    return FcmProvider(FcmConfig(service_account=account))


def test_a_consistent_key_written_by_hand_is_accepted(numbers):
    provider = build_provider(numbers.pem())

    assert provider.app.project_id == PROJECT
    provider.close()


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda x, _: replace(x, dmp1=x.dmp1 ^ 2), "the CRT exponents are not d mod (p-1) and d mod (q-1)"),
        (lambda x, _: replace(x, dmq1=x.dmq1 ^ 2), "the CRT exponents are not d mod (p-1) and d mod (q-1)"),
        (lambda x, _: replace(x, iqmp=x.iqmp ^ 2), "the CRT coefficient is not the inverse of q mod p"),
        (lambda x, _: replace(x, d=x.d ^ 2), "e*d is not 1 mod lcm(p-1, q-1)"),
        (lambda x, _: replace(x, e=3), "e*d is not 1 mod lcm(p-1, q-1)"),
        (lambda x, other: replace(x, q=other.q), "p*q is not the modulus"),
        (lambda x, other: replace(x, n=other.n), "p*q is not the modulus"),
        (lambda x, _: replace(x, p=x.p ^ 1), "a factor of the modulus is even"),
        (lambda x, _: replace(x, p=3, q=x.n // 3), "a factor of the modulus is too small"),
    ],
    ids=["dmp1", "dmq1", "iqmp", "d", "e", "q", "n", "even p", "small p"],
)
def test_a_key_whose_numbers_disagree_fails_the_build_naming_the_credentials_only(
    numbers, other_numbers, spoil, problem
):
    spoiled = spoil(numbers, other_numbers).pem()
    with pytest.raises(ValueError, match=r"Invalid private key|Could not deserialize"):
        serialization.load_pem_private_key(spoiled.encode(), password=None)  # OpenSSL's check refuses it too

    with pytest.raises(ConfigurationError) as raised:
        build_provider(spoiled)

    assert str(raised.value) == f"{UNUSABLE} ({problem})"  # the whole message: no key material
    assert raised.value.__cause__ is raised.value.__context__ is None


@pytest.mark.parametrize(
    ("make_key", "problem"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "not an RSA key"),
        (ed25519.Ed25519PrivateKey.generate, "not an RSA key"),
        (
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - on purpose
            "an RSA key of 1024 bits, fewer than 2048",
        ),
    ],
    ids=["ec", "ed25519", "rsa-1024"],
)
def test_a_key_that_is_not_rsa_of_2048_bits_or_more_fails_the_build(make_key, problem):
    with pytest.raises(ConfigurationError) as raised:
        build_provider(pkcs8(make_key()))

    assert str(raised.value) == f"{UNUSABLE} ({problem})"


def encrypted() -> str:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    "make_private_key",
    [
        lambda: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        lambda: "not a key at all",
        encrypted,
    ],
    ids=["garbled", "not pem", "encrypted"],
)
def test_a_private_key_that_cannot_be_read_fails_the_build(make_private_key):
    with pytest.raises(ConfigurationError) as raised:
        build_provider(make_private_key())

    assert str(raised.value) == f"{UNUSABLE} (not an unencrypted private key in PEM)"
    assert raised.value.__cause__ is raised.value.__context__ is None  # cryptography's error is not kept


def test_a_document_without_a_private_key_fails_the_build_naming_the_field():
    account = {k: v for k, v in service_account_key(PROJECT).items() if k != "private_key"}

    with pytest.raises(
        ConfigurationError, match=rf"^credentials '{CLIENT_EMAIL}' are not usable: private_key"
    ):
        FcmProvider(FcmConfig(service_account=account))
