"""The objects a function builds once per execution environment, lazily, from its settings.

Handlers and domain code ask here instead of building clients themselves; which provider each channel
delivers through is wired in `notifier.vendors`. Tests start over with `reset()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from notifier.platform.clients import dynamodb_client, reset_clients, sns_client, sqs_client
from notifier.platform.settings import (
    consumer_settings,
    due_settings,
    forget_settings,
    function_settings,
    inbox_settings,
    publish_settings,
    vendor_settings,
    webhook_settings,
)
from notifier.stores.recipients import RecipientStore
from notifier.stores.status import StatusStore

# What only some functions use is imported where it is first needed, so a function imports its own
# path and no other: the publish function never loads the delivery code, the providers or the
# credentials; the consumers never load publishing or idempotency (Powertools' idempotency utility);
# the API's idempotency is loaded by the first request that sends an Idempotency-Key.
if TYPE_CHECKING:
    from notifier.api.idempotency import IdempotentRequests
    from notifier.api.sns_publisher import Publisher
    from notifier.delivery.batch import DeliveryDeps
    from notifier.delivery.requeue import Requeuer
    from notifier.inbox.access import InboxAccess
    from notifier.inbox.live import LiveConnections
    from notifier.inbox.service import Inbox
    from notifier.inbox.tokens import InboxTokens
    from notifier.models.channels import Channel
    from notifier.platform.credentials import CredentialSource
    from notifier.platform.settings import FunctionSettings
    from notifier.providers import Outbox
    from notifier.receipts.ingest import ReceiptDeps
    from notifier.receipts.keys import VerificationKeys
    from notifier.scheduling.digests import Digests
    from notifier.scheduling.due import DueMessages, Schedules
    from notifier.stores.connections import ConnectionStore
    from notifier.stores.inbox import InboxStore
    from notifier.stores.pending import PendingStore
    from notifier.stores.receipts import ReceiptStore
    from notifier.stores.suppressions import SuppressionStore


@cache
def status_store() -> StatusStore:
    settings = function_settings()
    return StatusStore(settings.status_table, settings.status_ttl_days, dynamodb_client())


@cache
def recipient_store() -> RecipientStore:
    return RecipientStore(function_settings().require("recipients_table"), dynamodb_client())


@cache
def outbox() -> Outbox:
    from notifier.providers import Outbox  # noqa: PLC0415 - see the imports

    return Outbox(consumer_settings().sandbox_outbox_path)


@cache
def suppression_store() -> SuppressionStore:
    from notifier.stores.suppressions import SuppressionStore  # noqa: PLC0415 - see the imports

    return SuppressionStore(function_settings().require("suppressions_table"), dynamodb_client())


@cache
def inbox_store() -> InboxStore:
    """The in-app channel's inbox (INBOX_TABLE), its items kept INBOX_TTL_DAYS."""
    from notifier.stores.inbox import InboxStore  # noqa: PLC0415 - see the imports

    settings = inbox_settings()
    return InboxStore(
        settings.require("inbox_table"), dynamodb_client(), ttl=timedelta(days=settings.inbox_ttl_days)
    )


@cache
def connection_store() -> ConnectionStore:
    from notifier.stores.connections import ConnectionStore  # noqa: PLC0415 - see the imports

    return ConnectionStore(inbox_settings().require("connections_table"), dynamodb_client())


@cache
def live_connections() -> LiveConnections | None:
    """Posts to the recipients' open WebSockets at WEBSOCKET_MANAGEMENT_URL; None without it or without
    CONNECTIONS_TABLE (no live inbox)."""
    settings = inbox_settings()
    if not settings.connections_table or not settings.websocket_management_url:
        return None
    return connections_at(settings.websocket_management_url)


@cache
def connections_at(url: str) -> LiveConnections:
    """Posts to open WebSockets through the @connections API at `url` (one WebSocket API stage)."""
    from notifier.inbox.live import LiveConnections  # noqa: PLC0415 - see the imports
    from notifier.platform.clients import connections_client  # noqa: PLC0415

    return LiveConnections(connection_store(), lambda: connections_client(url))


@cache
def inbox() -> Inbox:
    from notifier.inbox.service import Inbox  # noqa: PLC0415 - see the imports

    return Inbox(inbox_store(), live_connections(), receipt_store)


_tokens: list[tuple[str | bytes, InboxTokens]] = []


def inbox_tokens() -> InboxTokens:
    """Issues and checks inbox tokens with the key in INBOX_TOKEN_SECRET (read through a cache, so a
    rotated secret is taken within CREDENTIALS_CACHE_SECONDS)."""
    from notifier.inbox.tokens import InboxTokens  # noqa: PLC0415 - see the imports

    settings = inbox_settings()
    secret = token_secret_source().text(settings.require("inbox_token_secret"))
    if _tokens and _tokens[0][0] is secret:
        return _tokens[0][1]
    key = secret.encode() if isinstance(secret, str) else secret
    key_id = hashlib.sha256(key).hexdigest()[:16]
    tokens = InboxTokens(
        {key_id: key},
        key_id,
        issuer=settings.inbox_token_issuer,
        lifetime=timedelta(seconds=settings.inbox_token_ttl_seconds),
    )
    _tokens[:] = [(secret, tokens)]
    return tokens


@cache
def token_secret_source() -> CredentialSource:
    from notifier.platform.credentials import CredentialSource  # noqa: PLC0415 - see the imports

    return CredentialSource("secretsmanager", inbox_settings().credentials_cache_seconds)


@cache
def inbox_access() -> InboxAccess:
    from notifier.inbox.access import InboxAccess, UsagePlanKeys  # noqa: PLC0415 - see the imports
    from notifier.platform.clients import apigateway_client  # noqa: PLC0415

    plan = inbox_settings().usage_plan_name
    return InboxAccess(inbox_tokens, UsagePlanKeys(plan, apigateway_client) if plan else None)


@cache
def receipt_store() -> ReceiptStore:
    from notifier.stores.receipts import ReceiptStore  # noqa: PLC0415 - see the imports

    return ReceiptStore(function_settings().status_table, dynamodb_client())


@cache
def sandbox_secret_source() -> CredentialSource:
    """Where the sandbox's receipts secret is: always Secrets Manager (the stack generates it there)."""
    from notifier.platform.credentials import CredentialSource  # noqa: PLC0415 - see the imports

    return CredentialSource("secretsmanager", vendor_settings().credentials_cache_seconds)


@cache
def verification_keys() -> VerificationKeys:
    from notifier.receipts.keys import VerificationKeys  # noqa: PLC0415 - see the imports
    from notifier.vendors import credential_source  # noqa: PLC0415

    return VerificationKeys(vendor_settings(), credential_source(), sandbox_secret_source())


@cache
def receipt_deps() -> ReceiptDeps:
    """What the webhooks function applies receipts with; its threads live as long as the environment."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - see the imports

    from notifier.receipts.ingest import ReceiptDeps  # noqa: PLC0415
    from notifier.stores.receipts import SeenEvents  # noqa: PLC0415

    settings = webhook_settings()
    return ReceiptDeps(
        statuses=receipt_store(),
        suppressions=suppression_store(),
        seen=SeenEvents(settings.idempotency_table, dynamodb_client()),
        pool=ThreadPoolExecutor(RECEIPT_CONCURRENCY, thread_name_prefix="receipts"),
    )


RECEIPT_CONCURRENCY = 16
"""Receipts applied at once by one webhook request (DynamoDB writes in flight)."""


@cache
def requeuer() -> Requeuer:
    from notifier.delivery.requeue import Requeuer  # noqa: PLC0415 - see the imports

    return Requeuer(sqs_client)  # the client is built when a record is first put back


@cache
def publisher() -> Publisher:
    from notifier.api.sns_publisher import Publisher  # noqa: PLC0415 - see the imports

    return Publisher(publish_settings().topic_arn, status_store(), sns_client())


@cache
def pending_store() -> PendingStore:
    """Scheduled notifications' envelopes (PENDING_TABLE), in the publish and due functions."""
    from notifier.stores.pending import PendingStore  # noqa: PLC0415 - see the imports

    return PendingStore(function_settings().require("pending_table"), dynamodb_client())


@cache
def schedules() -> Schedules:
    """The publish function's scheduled sends (PENDING_TABLE, DUE_QUEUE_URL)."""
    from notifier.scheduling.due import Schedules  # noqa: PLC0415 - see the imports

    settings = publish_settings()
    return Schedules(
        pending_store(),
        status_store(),
        sqs_client,
        settings.require("due_queue_url"),
        max_days=settings.max_schedule_days,
    )


@cache
def due_messages() -> DueMessages:
    from notifier.platform.clients import scheduler_client  # noqa: PLC0415 - see the imports
    from notifier.scheduling.due import DueMessages, DueTargets  # noqa: PLC0415

    settings = due_settings()
    return DueMessages(
        pending_store(),
        status_store(),
        due_publisher,
        sqs=sqs_client,
        scheduler=scheduler_client,
        due_queue_url=settings.due_queue_url,
        digests=due_digests if settings.digests_table else None,
        targets=DueTargets(
            settings.schedule_group,
            settings.due_queue_arn,
            settings.scheduler_role_arn,
            settings.schedule_dlq_arn,
        ),
    )


@cache
def digests() -> Digests:
    """The publish function's digests: events gathered into windows (DIGESTS_TABLE), each window's
    flush queued on DUE_QUEUE_URL, a leading event published at once."""
    settings = publish_settings()
    return _digests(settings, publisher, settings.require("due_queue_url"))


@cache
def due_digests() -> Digests:
    """The due function's digests: each window sent when its flush comes."""
    settings = due_settings()
    return _digests(settings, due_publisher, settings.due_queue_url)


def _digests(settings: FunctionSettings, publisher: Callable[[], Publisher], due_queue_url: str) -> Digests:
    from notifier.scheduling.digests import Digests  # noqa: PLC0415 - see the imports
    from notifier.stores.digests import DigestStore  # noqa: PLC0415

    return Digests(
        DigestStore(settings.require("digests_table"), dynamodb_client()),
        status_store(),
        publisher,
        sqs=sqs_client,
        due_queue_url=due_queue_url,
        max_events=settings.digest_max_events,
        window_override_seconds=settings.digest_window_seconds,
    )


@cache
def due_publisher() -> Publisher:
    from notifier.api.sns_publisher import Publisher  # noqa: PLC0415 - see the imports

    return Publisher(due_settings().topic_arn, status_store(), sns_client())


@cache
def idempotency() -> IdempotentRequests:
    """The API's Idempotency-Key store (IDEMPOTENCY_TABLE), built on the first request with a key."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

    from notifier.api.idempotency import IdempotentRequests  # noqa: PLC0415 - see the imports

    settings = publish_settings()
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=dynamodb_client()
    )
    return IdempotentRequests(persistence, window=timedelta(hours=settings.idempotency_window_hours))


def delivery_deps(channel: Channel) -> DeliveryDeps:
    from notifier.delivery.batch import DeliveryDeps  # noqa: PLC0415 - see the imports
    from notifier.models.channels import Channel  # noqa: PLC0415 - see the imports
    from notifier.vendors import provider  # noqa: PLC0415 - see the imports

    listed = channel in (Channel.EMAIL, Channel.SMS) and function_settings().suppressions_table
    return DeliveryDeps(
        status=status_store(),
        recipients=recipient_store(),
        provider=provider(channel),
        requeuer=requeuer(),
        suppressions=suppression_store() if listed else None,
    )


def reset() -> None:
    """Forget every built object and the settings (tests, and the local stack between runs)."""
    for factory in (
        status_store,
        recipient_store,
        suppression_store,
        receipt_store,
        inbox_store,
        connection_store,
        live_connections,
        connections_at,
        inbox,
        token_secret_source,
        inbox_access,
        outbox,
        sandbox_secret_source,
        verification_keys,
        requeuer,
        publisher,
        idempotency,
        pending_store,
        schedules,
        due_messages,
        digests,
        due_digests,
        due_publisher,
    ):
        factory.cache_clear()
    if receipt_deps.cache_info().currsize:
        receipt_deps().pool.shutdown(wait=False)
    receipt_deps.cache_clear()
    _tokens.clear()
    forget_settings()
    from notifier import vendors  # noqa: PLC0415 - see the imports

    vendors.reset()
    reset_clients()
