"""The sandbox's signing keys: derived from one generated secret, so the sandbox can sign its receipts
as SendGrid and Twilio sign theirs, and the webhooks can check them the same way.

The stack generates the secret (`SandboxReceiptsSecret`, 64 random characters in Secrets Manager;
the local stack generates its own). From it, by SHA-256 with a label per use:

- an ECDSA P-256 private key, whose public key stands for SendGrid's verification key while e-mail
  has no SendGrid credentials;
- an HMAC key that stands for Twilio's auth token while SMS has no Twilio credentials.

A channel with vendor credentials never accepts a receipt signed with these: the webhooks check the
vendor's key instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class SandboxKeys:
    secret: str

    @property
    def twilio_token(self) -> str:
        return hmac.new(
            self.secret.encode(), b"notifier sandbox: twilio auth token", hashlib.sha256
        ).hexdigest()

    def sendgrid_private_key(self) -> EllipticCurvePrivateKey:
        return _private_key(self.secret)

    def sendgrid_verification_key(self) -> str:
        """The public key as SendGrid shows its own: base64 of the DER SubjectPublicKeyInfo."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - e-mail and webhooks only

        der = (
            self.sendgrid_private_key()
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        return base64.b64encode(der).decode()


@lru_cache(maxsize=4)
def _private_key(secret: str) -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - see sendgrid_verification_key

    seed = hmac.new(secret.encode(), b"notifier sandbox: sendgrid signing key", hashlib.sha256).digest()
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def sign_sendgrid(key: EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """SendGrid's signature header value for `body` sent at `timestamp`: ECDSA P-256, SHA-256, DER,
    base64."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - see sendgrid_verification_key
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
