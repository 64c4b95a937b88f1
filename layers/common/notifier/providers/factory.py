"""Building a channel's provider from the settings and, for a vendor, its credentials.

Each vendor module is imported here, inside its branch, so a consumer loads its own vendor's SDK and
no other (the e-mail function never imports twilio or firebase-admin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notifier.errors import ConfigurationError
from notifier.models.channels import Channel
from notifier.platform.credentials import (
    FirebaseServiceAccount,
    SendGridCredentials,
    TwilioCredentials,
    parse_credentials,
)
from notifier.platform.settings import ConsumerSettings
from notifier.providers.base import Provider
from notifier.providers.sandbox import Outbox, SandboxOptions, SandboxProvider

if TYPE_CHECKING:
    from notifier.providers.sandbox_receipts import ReceiptFaults


AWS_PROVIDERS = frozenset({"ses", "eum"})
"""Providers the stack reaches with its own role (no vendor credentials): Amazon SES and AWS End User
Messaging SMS."""


def channel_providers(settings: ConsumerSettings, channel: Channel) -> tuple[str, ...]:
    """The channel's providers by name, the primary first (EMAIL_PROVIDERS, SMS_PROVIDERS); push has
    one, FCM, and in-app none but the inbox."""
    match channel:
        case Channel.EMAIL:
            return settings.email_providers
        case Channel.SMS:
            return settings.sms_providers
        case Channel.PUSH:
            return ("fcm",)
    return ("inbox",)


def aws_provider(name: str, settings: ConsumerSettings) -> Provider:
    """Amazon SES (`ses`) or AWS End User Messaging SMS (`eum`), signed in as the function's role."""
    concurrency = settings.delivery_concurrency
    if name == "ses":
        from notifier.providers.ses_email import SesConfig, SesProvider  # noqa: PLC0415 - see module doc

        return SesProvider(
            SesConfig(
                from_email=settings.require("email_from"),
                from_name=settings.email_from_name,
                configuration_set=settings.ses_configuration_set,
                timeout_seconds=settings.vendor_timeout_seconds,
            ),
            max_concurrency=concurrency,
        )
    if name == "eum":
        from notifier.providers.eum_sms import EumConfig, EumProvider  # noqa: PLC0415 - see module doc

        return EumProvider(
            EumConfig(
                origination_identity=settings.sms_origination_identity,
                configuration_set=settings.sms_configuration_set,
                max_price=settings.sms_max_price,
                timeout_seconds=settings.vendor_timeout_seconds,
            ),
            max_concurrency=concurrency,
        )
    raise ConfigurationError(f"{name!r} is not a provider the stack reaches with its own role")


def credentials_name(settings: ConsumerSettings, channel: Channel) -> str | None:
    """The name of the channel's vendor credentials; None means the channel uses the sandbox (or,
    in-app, which has no vendor, the inbox)."""
    return {
        Channel.EMAIL: settings.sendgrid_credentials,
        Channel.SMS: settings.twilio_credentials,
        Channel.PUSH: settings.fcm_credentials,
    }.get(channel)


def sandbox_provider(
    channel: Channel,
    settings: ConsumerSettings,
    outbox: Outbox,
    *,
    receipt_faults: ReceiptFaults | None = None,
    plays: str | None = None,
) -> SandboxProvider:
    """The sandbox of `channel`. E-mail and SMS also post signed receipts, as their vendors do, when
    the stack names where (PUBLIC_API_URL) and the secret to sign them with (SANDBOX_RECEIPTS_SECRET);
    `receipt_faults` makes those receipts come twice or out of order (the local stack's `--chaos`)."""
    options = SandboxOptions(
        latency_ms=settings.sandbox_latency_ms,
        transient_failure_rate=settings.sandbox_transient_failure_rate,
        permanent_failure_rate=settings.sandbox_permanent_failure_rate,
        seed=settings.sandbox_seed,
    )
    receipts = None
    if (
        channel in (Channel.EMAIL, Channel.SMS)
        and settings.public_api_url
        and settings.sandbox_receipts_secret
    ):
        from notifier.providers.sandbox_receipts import ReceiptPoster, secret_keys  # noqa: PLC0415 - only this sandbox loads it

        receipts = ReceiptPoster(
            channel,
            settings.public_api_url,
            secret_keys(settings.sandbox_receipts_secret),
            delay_ms=settings.sandbox_receipt_delay_ms,
            faults=receipt_faults,
            timeout_seconds=settings.vendor_timeout_seconds,
        )
    return SandboxProvider(
        channel,
        outbox,
        options,
        max_concurrency=settings.delivery_concurrency,
        receipts=receipts,
        plays=plays,
    )


def vendor_provider(channel: Channel, settings: ConsumerSettings, document: dict[str, Any]) -> Provider:
    """The vendor provider of `channel`, signed in with the credentials `document`."""
    name = credentials_name(settings, channel) or ""
    concurrency = settings.delivery_concurrency
    match channel:
        case Channel.EMAIL:
            from notifier.providers.sendgrid_email import SendGridConfig, SendGridProvider  # noqa: PLC0415 - see module doc

            sendgrid = parse_credentials(SendGridCredentials, name, document)
            return SendGridProvider(
                SendGridConfig(
                    api_key=sendgrid.api_key,
                    from_email=settings.require("email_from"),
                    from_name=settings.email_from_name,
                    host=settings.sendgrid_host,
                    timeout_seconds=settings.vendor_timeout_seconds,
                ),
                max_concurrency=concurrency,
            )
        case Channel.SMS:
            from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider  # noqa: PLC0415 - see module doc

            twilio = parse_credentials(TwilioCredentials, name, document)
            try:
                config = TwilioConfig(
                    account_sid=twilio.account_sid,
                    auth_token=twilio.auth_token,
                    api_key_sid=twilio.api_key_sid,
                    api_key_secret=twilio.api_key_secret,
                    from_number=settings.twilio_from,
                    messaging_service_sid=settings.twilio_messaging_service_sid,
                    region=settings.twilio_region,
                    edge=settings.twilio_edge,
                    timeout_seconds=settings.vendor_timeout_seconds,
                    status_callback_url=settings.api_url("/webhooks/twilio"),
                )
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
            return TwilioProvider(config, max_concurrency=concurrency)
        case Channel.PUSH:
            from notifier.providers.fcm_push import FcmConfig, FcmProvider  # noqa: PLC0415 - see module doc

            account = parse_credentials(FirebaseServiceAccount, name, document)
            return FcmProvider(
                FcmConfig(
                    service_account=account.model_dump(),
                    timeout_seconds=settings.vendor_timeout_seconds,
                    messages_url=settings.fcm_messages_url,
                ),
                max_concurrency=concurrency,
            )
    raise ConfigurationError(f"the {channel} channel has no vendor to sign in to")
