"""What the webhooks check signatures with: the vendor's key when the channel has the vendor's
credentials, else the sandbox's (`notifier.receipts.sandbox_keys`), else nothing (every request is
refused, and the log says what is missing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifier.platform.credentials import (
    CredentialSource,
    SendGridCredentials,
    TwilioCredentials,
    parse_credentials,
)
from notifier.platform.logs import logger
from notifier.platform.settings import VendorSettings
from notifier.receipts.sandbox_keys import SandboxKeys
from notifier.receipts.sendgrid import load_verification_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey


class VerificationKeys:
    def __init__(
        self, settings: VendorSettings, vendors: CredentialSource, sandbox: CredentialSource
    ) -> None:
        self.settings = settings
        self.vendors = vendors
        self.sandbox_source = sandbox

    def sendgrid(self) -> EllipticCurvePublicKey | None:
        name = self.settings.sendgrid_credentials
        if name:
            key = parse_credentials(
                SendGridCredentials, name, self.vendors.get(name)
            ).webhook_verification_key
            if key is None:
                logger.error(
                    "SendGrid receipts are refused: its credentials have no webhook_verification_key "
                    "(docs/vendors.md, Delivery receipts)"
                )
                return None
            return load_verification_key(key)
        sandbox = self.sandbox()
        return load_verification_key(sandbox.sendgrid_verification_key()) if sandbox else None

    def twilio(self, shared_key: str | None = None) -> str | None:
        """The auth token, or the webhook SharedKey named `shared_key` (the request's signature
        settings name it when Twilio signed with one)."""
        name = self.settings.twilio_credentials
        if name:
            credentials = parse_credentials(TwilioCredentials, name, self.vendors.get(name))
            if shared_key is not None:
                return credentials.webhook_shared_keys.get(shared_key)
            token = credentials.auth_token
            if token is None:
                logger.error(
                    "Twilio receipts are refused: Twilio signs them with the account's auth token, and "
                    "its credentials have none (docs/vendors.md, Delivery receipts)"
                )
            return token
        sandbox = self.sandbox()
        return sandbox.twilio_token if sandbox and shared_key is None else None

    def sandbox(self) -> SandboxKeys | None:
        name = self.settings.sandbox_receipts_secret
        if not name:
            return None
        secret = self.sandbox_source.text(name)
        return SandboxKeys(secret.decode() if isinstance(secret, bytes) else secret)
