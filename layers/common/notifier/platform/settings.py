"""Configuration, read from the environment once per execution environment, one model per function.

Nothing else in the code reads `os.environ`. Each function validates its own model at cold start
(`publish_settings()` in the publish handler, `consumer_settings()` in a consumer's), so a missing or
malformed variable fails the init with the variable's name, rather than the first request with a
KeyError. An empty value counts as unset, because that is how a template passes an optional Parameter
left blank. Field aliases are the environment variable names.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from notifier.errors import ConfigurationError

DIGEST_MIN_WINDOW_SECONDS = 5
"""The shortest digest window: a window's flush is queued before the window is written (see
`notifier.scheduling.digests`), and must not come before it."""


class FunctionSettings(BaseModel):
    """What every function needs."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status_table: str = Field(alias="STATUS_TABLE", min_length=1)
    status_ttl_days: int = Field(alias="STATUS_TTL_DAYS", default=30, ge=1, le=3650)
    recipients_table: str | None = Field(alias="RECIPIENTS_TABLE", default=None)
    suppressions_table: str | None = Field(alias="SUPPRESSIONS_TABLE", default=None)
    pending_table: str | None = Field(alias="PENDING_TABLE", default=None)
    # Digests (`notifier.scheduling.digests`): gathered by the publish function, sent by the due one
    digests_table: str | None = Field(alias="DIGESTS_TABLE", default=None)
    digest_window_seconds: int = Field(
        alias="DIGEST_WINDOW_SECONDS",
        default=0,
        description="Every digest window's length in seconds instead of its rule's (0: the rules').",
    )
    digest_max_events: int = Field(alias="DIGEST_MAX_EVENTS", default=100, ge=2, le=1000)
    credentials_cache_seconds: int = Field(
        alias="CREDENTIALS_CACHE_SECONDS",
        default=300,
        ge=0,
        le=3600,
        description="Seconds a secret (vendor credentials, the inbox token key) is used before a new read.",
    )

    @field_validator("digest_window_seconds")
    @classmethod
    def _a_window_or_none(cls, seconds: int) -> int:
        if seconds and not DIGEST_MIN_WINDOW_SECONDS <= seconds <= 86_400:
            raise ValueError(f"0 (the rules' windows) or from {DIGEST_MIN_WINDOW_SECONDS} to 86400")
        return seconds

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data

    def require(self, name: str) -> str:
        """The value of an optional setting that this function cannot work without."""
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].alias
            raise ConfigurationError(f"environment variable {alias} is required by this function")
        return str(value)


class InboxSettings(FunctionSettings):
    """The in-app inbox's: read and marked by the publish and socket functions, filled by the inapp
    consumer, and told live to the recipient's WebSocket connections by all three."""

    inbox_table: str | None = Field(alias="INBOX_TABLE", default=None)
    inbox_ttl_days: int = Field(alias="INBOX_TTL_DAYS", default=90, ge=1, le=3650)
    inbox_token_secret: str | None = Field(
        alias="INBOX_TOKEN_SECRET",
        default=None,
        description="The Secrets Manager secret inbox tokens are signed with.",
    )
    inbox_token_ttl_seconds: int = Field(alias="INBOX_TOKEN_TTL_SECONDS", default=3600, ge=60, le=86400)
    inbox_token_issuer: str = Field(alias="INBOX_TOKEN_ISSUER", default="notifier", min_length=1)
    connections_table: str | None = Field(alias="CONNECTIONS_TABLE", default=None)
    websocket_management_url: str | None = Field(
        alias="WEBSOCKET_MANAGEMENT_URL",
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The WebSocket API's @connections endpoint (https://<api>.execute-api.<region>.<suffix>/<stage>).",
    )
    usage_plan_name: str | None = Field(
        alias="USAGE_PLAN_NAME",
        default=None,
        description="The usage plan whose API keys the inbox routes take; unset: they take tokens only.",
    )


class PublishSettings(InboxSettings):
    """The publish function's: the topic, idempotency, the API's edge, the inbox routes, and scheduled
    sends."""

    # Scheduled sends (`sendAt`, `send_at`): kept in PENDING_TABLE, released through DUE_QUEUE_URL
    due_queue_url: str | None = Field(alias="DUE_QUEUE_URL", default=None)
    max_schedule_days: int = Field(alias="MAX_SCHEDULE_DAYS", default=30, ge=1, le=365)

    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)
    # Idempotency of the API's POSTs (Powertools idempotency)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    idempotency_window_hours: int = Field(alias="IDEMPOTENCY_WINDOW_HOURS", default=24, ge=1, le=720)

    # The API's edge: what the publish function accepts and who may read its answers in a browser
    max_request_bytes: int = Field(
        alias="MAX_REQUEST_BYTES",
        default=1_048_576,
        ge=1024,
        le=6_291_456,
        description="Largest request body, in bytes; a larger one is answered 413 before it is parsed.",
    )
    cors_allow_origin: str | None = Field(
        alias="CORS_ALLOW_ORIGIN",
        default=None,
        pattern=r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$",
        description="The one origin (or *) whose browsers may read the API's answers; unset: none.",
    )

    api_docs: Literal["Enabled", "Disabled"] = Field(
        alias="API_DOCS",
        default="Enabled",
        description="Enabled: GET /docs and GET /openapi.json answer (without an API key); Disabled: 404.",
    )


class DueSettings(FunctionSettings):
    """The due function's: it releases scheduled notifications to the topic when they are due, and
    hands those further ahead than an SQS delay to EventBridge Scheduler."""

    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)
    pending_table: str = Field(alias="PENDING_TABLE", min_length=1)
    due_queue_url: str = Field(alias="DUE_QUEUE_URL", min_length=1)
    due_queue_arn: str = Field(alias="DUE_QUEUE_ARN", min_length=1)
    schedule_group: str = Field(alias="SCHEDULE_GROUP", min_length=1)
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN", min_length=1)
    schedule_dlq_arn: str = Field(alias="SCHEDULE_DLQ_ARN", min_length=1)


class VendorSettings(FunctionSettings):
    """Where the vendors' credentials are: read by the consumers (to send) and the webhooks function
    (to verify the vendors' signatures), and the sandbox's receipts secret, used for both when a
    channel has no vendor."""

    # Vendor credentials: the name of a secret (or SSM parameter) holding a JSON document.
    credentials_store: Literal["secretsmanager", "ssm"] = Field(
        alias="CREDENTIALS_STORE", default="secretsmanager"
    )
    sendgrid_credentials: str | None = Field(alias="SENDGRID_CREDENTIALS", default=None)
    twilio_credentials: str | None = Field(alias="TWILIO_CREDENTIALS", default=None)
    fcm_credentials: str | None = Field(alias="FCM_CREDENTIALS", default=None)

    sandbox_receipts_secret: str | None = Field(
        alias="SANDBOX_RECEIPTS_SECRET",
        default=None,
        description="The Secrets Manager secret the sandbox signs its receipts with (unset: it sends none).",
    )
    public_api_url: str | None = Field(
        alias="PUBLIC_API_URL",
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The API's base URL as vendors call it: Twilio status callbacks, sandbox receipts.",
    )

    @model_validator(mode="after")
    def _ssm_names_are_paths(self) -> VendorSettings:
        if self.credentials_store == "ssm":
            for field in ("sendgrid_credentials", "twilio_credentials", "fcm_credentials"):
                name = getattr(self, field)
                if name and not name.startswith("/"):
                    alias = type(self).model_fields[field].alias
                    raise ValueError(f"{alias}: an SSM parameter name starts with / (got {name!r})")
        return self

    def api_url(self, path: str) -> str | None:
        """`path` (from the API's root) at PUBLIC_API_URL, or None when that is unset."""
        return f"{self.public_api_url.rstrip('/')}{path}" if self.public_api_url else None


class WebhookSettings(VendorSettings):
    """The webhooks function's: the vendors' signatures, de-duplication and the suppression list."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    webhook_max_age_seconds: int = Field(
        alias="WEBHOOK_MAX_AGE_SECONDS",
        default=300,
        ge=30,
        le=86400,
        description="A signed SendGrid request whose timestamp is older than this is refused (401).",
    )
    max_request_bytes: int = Field(alias="MAX_REQUEST_BYTES", default=1_048_576, ge=1024, le=6_291_456)


class ConsumerSettings(VendorSettings, InboxSettings):
    """A consumer function's (email, sms, push): retries, delivery, the vendor, the sandbox."""

    # Retries of the consumers: SQS redelivery with backoff, then the dead-letter queue
    max_receive_count: int = Field(
        alias="MAX_RECEIVE_COUNT",
        default=6,
        ge=2,
        le=1000,
        description="The source queues' maxReceiveCount; the last receive marks DEAD_LETTERED.",
    )
    retry_base_seconds: float = Field(alias="RETRY_BASE_SECONDS", default=10.0, ge=0, le=43200)
    retry_max_seconds: float = Field(alias="RETRY_MAX_SECONDS", default=300.0, ge=0, le=43200)

    # Delivery
    delivery_concurrency: int = Field(
        alias="DELIVERY_CONCURRENCY",
        default=10,
        ge=1,
        le=100,
        description="Records of one batch handled at once; vendor calls in flight per execution environment.",
    )
    vendor_timeout_seconds: float = Field(alias="VENDOR_TIMEOUT_SECONDS", default=5.0, gt=0, le=60)

    # SendGrid
    sendgrid_host: str = Field(
        alias="SENDGRID_HOST", default="https://api.sendgrid.com", pattern=r"^https?://"
    )
    email_from: str | None = Field(alias="EMAIL_FROM", default=None)
    email_from_name: str | None = Field(alias="EMAIL_FROM_NAME", default=None)

    # Twilio
    twilio_from: str | None = Field(alias="TWILIO_FROM", default=None)
    twilio_messaging_service_sid: str | None = Field(
        alias="TWILIO_MESSAGING_SERVICE_SID", default=None, pattern=r"^MG[0-9a-fA-F]{32}$"
    )
    twilio_region: str | None = Field(alias="TWILIO_REGION", default=None, pattern=r"^[a-z]{2}[0-9]$")
    twilio_edge: str | None = Field(alias="TWILIO_EDGE", default=None, pattern=r"^[a-z]+$")

    # Providers per channel: the first the primary, a second the fallback (`providers.failover`)
    email_providers: tuple[Literal["sendgrid", "ses"], ...] = Field(
        alias="EMAIL_PROVIDERS", default=("sendgrid",), min_length=1, max_length=2
    )
    sms_providers: tuple[Literal["twilio", "eum"], ...] = Field(
        alias="SMS_PROVIDERS", default=("twilio",), min_length=1, max_length=2
    )
    # Amazon SES (e-mail from EMAIL_FROM, which must be a verified identity)
    ses_configuration_set: str | None = Field(
        alias="SES_CONFIGURATION_SET", default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    # AWS End User Messaging SMS
    sms_origination_identity: str | None = Field(
        alias="SMS_ORIGINATION_IDENTITY", default=None, max_length=256
    )
    sms_configuration_set: str | None = Field(
        alias="SMS_CONFIGURATION_SET", default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    sms_max_price: str | None = Field(
        alias="SMS_MAX_PRICE", default=None, pattern=r"^[0-9]{1,2}\.[0-9]{1,5}$"
    )
    # Circuit breakers of the primary providers, shared by every execution environment
    breakers_table: str | None = Field(alias="BREAKERS_TABLE", default=None)
    breaker_failures: int = Field(alias="BREAKER_FAILURES", default=5, ge=1, le=10_000)
    breaker_window_seconds: int = Field(alias="BREAKER_WINDOW_SECONDS", default=60, ge=10, le=3600)
    breaker_cooldown_seconds: int = Field(alias="BREAKER_COOLDOWN_SECONDS", default=30, ge=5, le=3600)
    failover_rate_limit_budget_seconds: float = Field(
        alias="FAILOVER_RATE_LIMIT_BUDGET_SECONDS",
        default=30.0,
        ge=0,
        le=3600,
        description="A rate limit asking to wait longer than this hands the message to the fallback.",
    )

    @field_validator("email_providers", "sms_providers", "sandbox_providers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, (tuple, list)) and len(set(value)) < len(value):
            raise ValueError("a provider is named twice")
        return value

    # FCM
    fcm_messages_url: str | None = Field(
        alias="FCM_MESSAGES_URL",
        default=None,
        pattern=r"^https?://",
        description="Send FCM messages here instead of to Google: for tests and emulators only.",
    )

    # The sandbox provider
    sandbox_providers: tuple[str, ...] = Field(
        alias="SANDBOX_PROVIDERS",
        default=(),
        description="Providers whose messages the sandbox takes instead (the local stack: ses and eum, "
        "which it has no emulator for), each as its own sandbox.",
    )
    sandbox_outbox_path: str | None = Field(
        alias="SANDBOX_OUTBOX_PATH",
        default=None,
        description="Also append sandbox deliveries to this JSON-lines file.",
    )
    sandbox_latency_ms: int = Field(alias="SANDBOX_LATENCY_MS", default=0, ge=0, le=60_000)
    sandbox_transient_failure_rate: float = Field(
        alias="SANDBOX_TRANSIENT_FAILURE_RATE", default=0.0, ge=0, le=1
    )
    sandbox_permanent_failure_rate: float = Field(
        alias="SANDBOX_PERMANENT_FAILURE_RATE", default=0.0, ge=0, le=1
    )
    sandbox_seed: int | None = Field(alias="SANDBOX_SEED", default=None)
    sandbox_receipt_delay_ms: int = Field(
        alias="SANDBOX_RECEIPT_DELAY_MS",
        default=1000,
        ge=0,
        le=600_000,
        description="How long after a sandbox send its signed receipt is posted to the webhook routes.",
    )

    @model_validator(mode="after")
    def _rates_add_up(self) -> ConsumerSettings:
        if self.sandbox_transient_failure_rate + self.sandbox_permanent_failure_rate > 1:
            raise ValueError(
                "SANDBOX_TRANSIENT_FAILURE_RATE + SANDBOX_PERMANENT_FAILURE_RATE must not exceed 1"
            )
        return self


Model = TypeVar("Model", bound=FunctionSettings)


def settings_from(environ: dict[str, str], model: type[Model]) -> Model:
    try:
        return model.model_validate(environ)
    except ValidationError as exc:
        problems = "; ".join(
            f"{e['loc'][0]}: {e['msg']}" if e["loc"] else str(e["msg"]) for e in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@cache
def function_settings() -> FunctionSettings:
    """What every function needs (the stores), in any function."""
    return settings_from(dict(os.environ), FunctionSettings)


@cache
def publish_settings() -> PublishSettings:
    return settings_from(dict(os.environ), PublishSettings)


@cache
def consumer_settings() -> ConsumerSettings:
    return settings_from(dict(os.environ), ConsumerSettings)


@cache
def due_settings() -> DueSettings:
    return settings_from(dict(os.environ), DueSettings)


@cache
def inbox_settings() -> InboxSettings:
    """The inbox's, in any function that reads or fills it."""
    return settings_from(dict(os.environ), InboxSettings)


@cache
def vendor_settings() -> VendorSettings:
    """Where the vendors' credentials are, in a consumer or the webhooks function."""
    return settings_from(dict(os.environ), VendorSettings)


@cache
def webhook_settings() -> WebhookSettings:
    return settings_from(dict(os.environ), WebhookSettings)


def forget_settings() -> None:
    """Read the environment again on next use (tests, and the local stack between runs)."""
    for read in (
        function_settings,
        publish_settings,
        consumer_settings,
        inbox_settings,
        due_settings,
        vendor_settings,
        webhook_settings,
    ):
        read.cache_clear()
