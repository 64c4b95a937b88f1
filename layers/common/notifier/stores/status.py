"""The status store: the status of every (notification, channel), in DynamoDB, moving only forward.

The statuses, and which may follow which, are `notifier.models.statuses`; DELIVERED and BOUNCED come
from the vendors' receipts (`notifier.stores.receipts`). Every write is one conditional UpdateItem, so
two writers racing (the publish function and a fast consumer, or two deliveries of one SQS message)
can never move a status backwards. DEAD_LETTERED is final unless an operator redrives the message
from its dead-letter queue: the redriven delivery reopens it.

An attempt holds a *lease* (`lease_until`) from `begin_attempt` until its outcome is written: a second
copy of the same SQS message (SQS delivers at least once) that arrives meanwhile is told to come back
later instead of sending again. A lease left by an execution environment that died expires with the
function's timeout.

Every error or reason kept in `last_error` (which GET /event/{id} returns) is scrubbed here, at the
store's boundary, whichever caller passes it: a vendor's error text can echo the recipient's address,
and no address may be stored unmasked (see `masking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from notifier.models.channels import Channel
from notifier.models.envelope import Envelope
from notifier.models.responses import ChannelStatus, EventStatus
from notifier.models.statuses import ALLOWED_FROM, ALREADY_HANDLED, GRANTED, RECEIPT_MOMENTS, Claim, Status
from notifier.platform.masking import scrub
from notifier.stores.attributes import epoch_seconds, error_text, iso, status_in, string_attribute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _now() -> datetime:
    return datetime.now(UTC)


class StatusStore:
    """Table keyed by `notification_id` (partition) and `channel` (sort), with TTL on `expires_at`."""

    def __init__(self, table: str, ttl_days: int, client: DynamoDBClient) -> None:
        self.table = table
        self.ttl = timedelta(days=ttl_days)
        self.client = client

    def accept(self, envelope: Envelope) -> None:
        """Record ACCEPTED for each channel, unless a consumer has already moved it on."""
        now = _now()
        for channel in envelope.channels:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(envelope.notification_id, channel),
                UpdateExpression=(
                    "SET #status = if_not_exists(#status, :accepted), "
                    "created_at = if_not_exists(created_at, :now), "
                    "updated_at = if_not_exists(updated_at, :now), "
                    "recipient_id = :recipient, event_type = :event_type, priority = :priority, "
                    "expires_at = if_not_exists(expires_at, :expires)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":accepted": {"S": Status.ACCEPTED},
                    ":now": {"S": iso(now)},
                    ":recipient": {"S": envelope.recipient_id},
                    ":event_type": {"S": str(envelope.event_type)},
                    ":priority": {"S": envelope.priority},
                    ":expires": {"N": str(int((now + self.ttl).timestamp()))},
                },
            )

    def schedule(self, envelope: Envelope, send_at: datetime) -> None:
        """Record SCHEDULED, with `scheduled_for`, for each channel that has no status yet (a request
        sent again finds its rows there and changes nothing)."""
        self._first(envelope, Status.SCHEDULED, "scheduled_for", iso(send_at))

    def digested(self, envelope: Envelope, digest_id: str) -> None:
        """Record DIGESTED, with `digested_into`, for each channel: the event goes out as part of the
        digest notification `digest_id`, not alone. Only as the first status (a request sent again
        finds its rows there and changes nothing)."""
        self._first(envelope, Status.DIGESTED, "digested_into", digest_id)

    def _first(self, envelope: Envelope, status: Status, attribute: str, value: str) -> None:
        """`status`, with `attribute` set to `value`, on each channel that has no status yet."""
        now = _now()
        described, values = self._description(envelope, now)
        for channel in envelope.channels:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._key(envelope.notification_id, channel),
                    UpdateExpression=(
                        f"SET #status = :status, {attribute} = :value, updated_at = :now, {described}"
                    ),
                    ConditionExpression="attribute_not_exists(#status)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":status": {"S": status},
                        ":value": {"S": value},
                        ":now": {"S": iso(now)},
                        **values,
                    },
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def release(self, notification_id: str, channels: Sequence[Channel]) -> list[Channel]:
        """SCHEDULED -> ACCEPTED for each of `channels`: the ones to publish now. A channel cancelled is
        left out, and so is one a consumer has taken since an earlier release; one released before
        but still ACCEPTED is released again (the release that stopped before publishing it is being
        retried: publishing twice is what the consumers' leases already absorb)."""
        released = []
        for channel in channels:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._key(notification_id, channel),
                    UpdateExpression=(
                        "SET #status = :accepted, updated_at = :now, "
                        "released_at = if_not_exists(released_at, :now)"
                    ),
                    ConditionExpression=(
                        "#status = :scheduled OR (#status = :accepted AND attribute_exists(released_at))"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":accepted": {"S": Status.ACCEPTED},
                        ":scheduled": {"S": Status.SCHEDULED},
                        ":now": {"S": iso(_now())},
                    },
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue
                raise
            released.append(channel)
        return released

    def cancel(self, notification_id: str) -> EventStatus | None:
        """SCHEDULED -> CANCELLED for each channel of the notification that is not released yet; the
        status after (a channel already released, sent or settled reported as it is). None when the
        notification is unknown."""
        found = self.get(notification_id)
        if found is None:
            return None
        for channel, state in found.channels.items():
            if state.status == Status.SCHEDULED:
                self._conditional_update(notification_id, channel, Status.CANCELLED, values={})
        return self.get(notification_id)

    def begin_attempt(self, envelope: Envelope, channel: Channel, *, lease_seconds: float) -> Claim:
        """Mark the channel QUEUED, count an attempt and take the lease for `lease_seconds`, unless the
        channel is past sending or another attempt holds the lease."""
        now = _now()
        described, values = self._description(envelope, now)
        allowed = ALLOWED_FROM[Status.QUEUED]
        from_allowed, placeholders = status_in(allowed)
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(envelope.notification_id, channel),
                UpdateExpression=(
                    f"SET #status = :status, updated_at = :now, lease_until = :lease, {described} "
                    "ADD attempts :one"
                ),
                ConditionExpression=(
                    f"(attribute_not_exists(#status) OR {from_allowed}) "
                    "AND (attribute_not_exists(lease_until) OR lease_until < :epoch)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": Status.QUEUED},
                    ":now": {"S": iso(now)},
                    ":epoch": {"N": epoch_seconds(now)},
                    ":lease": {"N": epoch_seconds(now + timedelta(seconds=lease_seconds))},
                    ":one": {"N": "1"},
                    **placeholders,
                    **values,
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = cast("dict[str, Any]", exc.response.get("Item", {}))
            if string_attribute(old, "status") in {s.value for s in allowed}:
                lease_until = float(old.get("lease_until", {}).get("N", "0"))
                return Claim(granted=False, busy_seconds=max(0.0, lease_until - now.timestamp()))
            return ALREADY_HANDLED
        return GRANTED

    def suppress(self, envelope: Envelope, channel: Channel, reason: str) -> bool:
        """SUPPRESSED (the recipient's preferences), with the reason. False when already past sending."""
        now = _now()
        described, values = self._description(envelope, now)
        return self._conditional_update(
            envelope.notification_id,
            channel,
            Status.SUPPRESSED,
            allow_missing=True,
            extra_set=f"{described}, last_error = :error",
            values={**values, ":error": {"S": error_text(reason)}},
            now=now,
        )

    def _description(self, envelope: Envelope, now: datetime) -> tuple[str, dict[str, Any]]:
        """What a consumer may be the first to write: the status row's description of the notification
        (the publish function's own ACCEPTED write may not have landed yet, or have expired)."""
        return (
            "recipient_id = :recipient, event_type = :event_type, priority = :priority, "
            "created_at = if_not_exists(created_at, :now), "
            "expires_at = if_not_exists(expires_at, :expires)",
            {
                ":recipient": {"S": envelope.recipient_id},
                ":event_type": {"S": str(envelope.event_type)},
                ":priority": {"S": envelope.priority},
                ":expires": {"N": str(int((now + self.ttl).timestamp()))},
            },
        )

    def advance(
        self,
        notification_id: str,
        channel: Channel,
        status: Status,
        *,
        provider_message_id: str | None = None,
        provider: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Move to `status` if the current one allows it, ending the attempt's lease. False when it
        does not allow it."""
        sets: list[str] = []
        values: dict[str, Any] = {}
        if provider_message_id is not None:
            sets.append("provider_message_id = :provider_id")
            values[":provider_id"] = {"S": provider_message_id}
        if provider is not None:
            sets.append("provider = :provider")
            values[":provider"] = {"S": provider}
        if error is not None:
            sets.append("last_error = :error")
            values[":error"] = {"S": error_text(error)}
        return self._conditional_update(
            notification_id, channel, status, extra_set=", ".join(sets), values=values, remove="lease_until"
        )

    def dead_letter(self, envelope: Envelope, channel: Channel, reason: str) -> bool:
        """DEAD_LETTERED: no delivery attempt is left. Keeps the last transient error as the reason
        when there is one, else `reason`. False when the channel is already past sending (marking one
        that is already DEAD_LETTERED again changes nothing and is True)."""
        now = _now()
        described, values = self._description(envelope, now)
        return self._conditional_update(
            envelope.notification_id,
            channel,
            Status.DEAD_LETTERED,
            allowed=ALLOWED_FROM[Status.DEAD_LETTERED] | {Status.DEAD_LETTERED},
            allow_missing=True,
            extra_set=f"{described}, last_error = if_not_exists(last_error, :error)",
            values={**values, ":error": {"S": error_text(reason)}},
            remove="lease_until",
            now=now,
        )

    def defer(self, notification_id: str, channel: Channel, until: datetime) -> bool:
        """Note that the channel waits (the recipient's quiet hours) until `until`. False when it is
        already past sending, so there is nothing to wait for."""
        return self._conditional_update(
            notification_id,
            channel,
            Status.QUEUED,
            allow_missing=True,
            extra_set="deferred_until = :until",
            values={":until": {"S": iso(until)}},
        )

    def record_error(self, notification_id: str, channel: Channel, error: str) -> None:
        """Keep the reason of a transient failure and end the attempt's lease, so the retry may take
        it; the status does not change."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(notification_id, channel),
            UpdateExpression="SET last_error = :error, updated_at = :now REMOVE lease_until",
            ExpressionAttributeValues={
                ":error": {"S": error_text(error)},
                ":now": {"S": iso(_now())},
            },
        )

    def get(self, notification_id: str) -> EventStatus | None:
        answer = self.client.query(
            TableName=self.table,
            KeyConditionExpression="notification_id = :id",
            ExpressionAttributeValues={":id": {"S": notification_id}},
            ConsistentRead=True,
        )
        items = answer.get("Items", [])
        if not items:
            return None
        first = items[0]
        return EventStatus(
            event_id=notification_id,
            recipient_id=string_attribute(first, "recipient_id"),
            event_type=string_attribute(first, "event_type"),
            priority=string_attribute(first, "priority"),
            channels={
                Channel(item["channel"]["S"]): ChannelStatus(
                    status=item["status"]["S"],
                    attempts=int(item.get("attempts", {}).get("N", 0)),
                    provider=string_attribute(item, "provider"),
                    provider_message_id=string_attribute(item, "provider_message_id"),
                    last_error=_scrubbed(string_attribute(item, "last_error")),
                    deferred_until=string_attribute(item, "deferred_until"),
                    scheduled_for=string_attribute(item, "scheduled_for"),
                    digested_into=string_attribute(item, "digested_into"),
                    **{moment: string_attribute(item, moment) for moment in RECEIPT_MOMENTS},
                    created_at=string_attribute(item, "created_at"),
                    updated_at=string_attribute(item, "updated_at"),
                )
                for item in items
            },
        )

    def _conditional_update(
        self,
        notification_id: str,
        channel: Channel,
        status: Status,
        *,
        extra_set: str = "",
        add: str = "",
        remove: str = "",
        values: dict[str, Any],
        allowed: frozenset[Status] | None = None,
        allow_missing: bool = False,
        now: datetime | None = None,
    ) -> bool:
        condition, placeholders = status_in(ALLOWED_FROM[status] if allowed is None else allowed)
        if allow_missing:
            condition = f"attribute_not_exists(#status) OR {condition}"
        expression = "SET #status = :status, updated_at = :now" + (f", {extra_set}" if extra_set else "")
        if add:
            expression += f" ADD {add}"
        if remove:
            expression += f" REMOVE {remove}"
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(notification_id, channel),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status.value},
                    ":now": {"S": iso(now or _now())},
                    **placeholders,
                    **values,
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @staticmethod
    def _key(notification_id: str, channel: Channel) -> dict[str, Any]:
        return {"notification_id": {"S": notification_id}, "channel": {"S": channel.value}}


def _scrubbed(text: str | None) -> str | None:
    """Scrubbed again on the way out: a row written before errors were scrubbed may still be read."""
    return scrub(text) if text else text
