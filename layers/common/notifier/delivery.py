"""Delivery: what a channel consumer does with one SQS record."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from .errors import PermanentDeliveryError, TransientDeliveryError
from .models import Channel, Envelope, OutboundMessage
from .observability import logger, metrics
from .providers import Provider
from .recipients import RecipientStore, resolve_addresses
from .rendering import render
from .status import Status, StatusStore


class NotificationRecord(SqsRecordModel):
    """An SQS record whose body is the envelope. A body that is not one fails this record alone."""

    body: Json[Envelope]


@dataclass
class DeliveryDeps:
    status: StatusStore
    recipients: RecipientStore | None
    provider: Provider


def deliver(envelope: Envelope, channel: Channel, deps: DeliveryDeps) -> Status | None:
    """Send `envelope` on `channel` and record the outcome.

    Returns the status reached, or None when there was nothing to do (already handled, or not for
    this channel). A permanent failure is recorded as FAILED and returns: retrying cannot help. A
    transient failure is recorded and raised, so the record is reported failed and retried by SQS.
    """
    log_keys = {"notification_id": envelope.notification_id, "channel": channel.value}
    if channel not in envelope.channels:
        logger.warning("record is not for this channel; check the filter policies", extra=log_keys)
        return None
    if not deps.status.begin_attempt(envelope, channel):
        logger.info("already handled; not sending again", extra=log_keys)
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
        return None
    try:
        addresses = resolve_addresses(envelope, channel, deps.recipients)
        message = render(envelope, channel)
        provider_ids, problems = _send_to_each(
            envelope.notification_id, channel, addresses, message, deps.provider
        )
    except PermanentDeliveryError as exc:
        deps.status.advance(envelope.notification_id, channel, Status.FAILED, error=exc.reason)
        logger.warning("delivery failed permanently", extra={**log_keys, "reason": exc.reason})
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        return Status.FAILED
    except TransientDeliveryError as exc:
        deps.status.record_error(envelope.notification_id, channel, exc.reason)
        metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=1)
        raise
    if problems:
        logger.warning("some addresses failed", extra={**log_keys, "reasons": problems})
    deps.status.advance(
        envelope.notification_id,
        channel,
        Status.SENT,
        provider_message_id=",".join(provider_ids),
        error="; ".join(problems) or None,
    )
    logger.info("notification sent", extra={**log_keys, "provider": deps.provider.name})
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
    return Status.SENT


def _send_to_each(
    notification_id: str, channel: Channel, addresses: list[str], message: OutboundMessage, provider: Provider
) -> tuple[list[str], list[str]]:
    """Send to every address (a recipient may have several devices).

    Sent to at least one: the ids, and the reasons of the others. Sent to none: raises, transient if
    any failure was transient (a retry may reach them), permanent otherwise.
    """
    sent: list[str] = []
    transient: list[TransientDeliveryError] = []
    permanent: list[PermanentDeliveryError] = []
    for address in addresses:
        try:
            sent.append(provider.send(channel, address, message, notification_id=notification_id))
        except TransientDeliveryError as exc:
            transient.append(exc)
        except PermanentDeliveryError as exc:
            permanent.append(exc)
    reasons = [exc.reason for exc in (*transient, *permanent)]
    if sent:
        return sent, reasons
    if transient:
        raise TransientDeliveryError("; ".join(reasons), transient[0].retry_after_seconds)
    raise PermanentDeliveryError("; ".join(reasons))
