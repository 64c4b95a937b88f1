"""Receipts written to the status table: each one conditional UpdateItem, so a status only moves
forward whatever order receipts arrive in, and a receipt applied twice changes nothing the second time.

- DELIVERED and BOUNCED move SENT (or QUEUED, DEAD_LETTERED: see `status.ALLOWED_FROM`) on; the first
  of them to arrive wins, so a late `delivered` after BOUNCED changes nothing.
- A deferral keeps its reason in `last_error` while the status is SENT, and only then.
- Engagement (opened, clicked, complained, unsubscribed) is kept at its first time, and proves the
  message arrived: a SENT notification is DELIVERED too.

`SeenEvents` remembers the vendor's event ids (in the idempotency table, for three days: SendGrid
retries an unanswered batch for 24 hours), so an event sent again is recognised before anything is
written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from notifier.models.channels import Priority
from notifier.models.statuses import ALLOWED_FROM, Status
from notifier.receipts.models import ENGAGEMENT, Receipt, ReceiptKind
from notifier.stores.attributes import error_text, iso, status_in
from notifier.stores.batches import batch_get, batch_put

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Effect(Enum):
    CHANGED = "changed"
    """The receipt changed the status row."""
    UNCHANGED = "unchanged"
    """The row already said so, or says something that may not be undone."""
    UNKNOWN = "unknown"
    """No such notification on this channel (not ours, or expired)."""


@dataclass(frozen=True)
class Applied:
    effect: Effect
    status: Status | None = None
    """The status after the receipt, when the row is known."""
    priority: Priority | None = None
    delivered: bool = False
    """Engagement also moved SENT on to DELIVERED."""


@dataclass(frozen=True)
class Settled:
    """One write settled a notification (`ReceiptStore.settle`)."""

    applied: Applied
    terminal: Receipt
    """The receipt that decided the status (DELIVERED or BOUNCED)."""


_SETTLING = frozenset({ReceiptKind.DELIVERED, ReceiptKind.BOUNCED})
ENGAGEABLE = ALLOWED_FROM[Status.DELIVERED] | {Status.DELIVERED}
"""Where engagement is kept: the vendor took the message (or may have, on a retry)."""

_MOMENT = {
    ReceiptKind.DELIVERED: "delivered_at",
    ReceiptKind.BOUNCED: "bounced_at",
    ReceiptKind.OPENED: "opened_at",
    ReceiptKind.CLICKED: "clicked_at",
    ReceiptKind.COMPLAINED: "complained_at",
    ReceiptKind.UNSUBSCRIBED: "unsubscribed_at",
}


class ReceiptStore:
    """Applies receipts to the status table (`StatusStore`'s: `notification_id`, `channel`)."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def settle(self, receipts: list[Receipt], notification_id: str) -> Settled | None:
        """Every receipt of one notification (in the order they happened) in one write, when they
        settle it: the first DELIVERED or BOUNCED among them (or DELIVERED, proved by engagement)
        while the status is still one a receipt may move on, each moment at its first time. None when
        they do not settle it, or the status has moved on already: then each is applied alone, in
        order (`apply`), which decides what each changes. A vendor's batch holds a message's
        `delivered`, `open` and `click` together: one write instead of three to five."""
        terminal = next((r for r in receipts if r.kind in _SETTLING), None)
        if terminal is None and any(r.kind in ENGAGEMENT for r in receipts):
            terminal = next(r for r in receipts if r.kind in ENGAGEMENT)
        if terminal is None:
            return None
        applied = self._settle(terminal, notification_id, receipts)
        if applied.effect is not Effect.CHANGED:
            return None
        return Settled(replace(applied, delivered=terminal.kind in ENGAGEMENT), terminal)

    def apply(self, receipt: Receipt, notification_id: str) -> Applied:
        match receipt.kind:
            case ReceiptKind.DELIVERED | ReceiptKind.BOUNCED:
                return self._settle(receipt, notification_id)
            case ReceiptKind.DEFERRED:
                return self._deferred(receipt, notification_id)
        assert receipt.kind in ENGAGEMENT  # noqa: S101 - every kind is matched above or here
        return self._engaged(receipt, notification_id)

    def _settle(self, terminal: Receipt, notification_id: str, receipts: Sequence[Receipt] = ()) -> Applied:
        """DELIVERED (or BOUNCED, when `terminal` is a bounce) if the status may take it, with the
        moments of `terminal` and of the engagement among `receipts`, each kept at its first time."""
        status = Status.BOUNCED if terminal.kind is ReceiptKind.BOUNCED else Status.DELIVERED
        moments: dict[str, datetime] = (
            {"delivered_at": terminal.occurred_at} if status is Status.DELIVERED else {}
        )
        for receipt in (terminal, *receipts):
            if receipt is terminal or receipt.kind in ENGAGEMENT:
                moments.setdefault(_MOMENT[receipt.kind], receipt.occurred_at)
        sets = [f"{moment} = if_not_exists({moment}, :m{i})" for i, moment in enumerate(moments)]
        sets.append("provider_message_id = if_not_exists(provider_message_id, :pid)")
        values: dict[str, Any] = {f":m{i}": {"S": iso(at)} for i, at in enumerate(moments.values())}
        if status is Status.BOUNCED and terminal.reason:
            sets.append("last_error = :reason")
            values[":reason"] = {"S": error_text(terminal.reason)}
        with_id = next((r for r in (terminal, *receipts) if r.provider_message_id), terminal)
        return self._update(
            with_id,
            notification_id,
            sets,
            values,
            status=status,
            allowed=ALLOWED_FROM[status],
            remove="lease_until",
        )

    def _deferred(self, receipt: Receipt, notification_id: str) -> Applied:
        reason = receipt.reason or f"{receipt.kind}"
        return self._update(
            receipt,
            notification_id,
            ["last_error = :reason"],
            {":reason": {"S": error_text(reason)}},
            allowed=frozenset({Status.SENT}),
        )

    def _engaged(self, receipt: Receipt, notification_id: str) -> Applied:
        """The moment kept at its first time, while the message is one the vendor took (or may have):
        a notification FAILED, SUPPRESSED or BOUNCED was never opened."""
        moment = _MOMENT[receipt.kind]
        sent, placeholders = status_in(ENGAGEABLE)
        applied = self._update(
            receipt,
            notification_id,
            [f"{moment} = :at"],
            {":at": {"S": iso(receipt.occurred_at)}},
            condition=f"{sent} AND attribute_not_exists({moment})",
            placeholders=placeholders,
        )
        if applied.effect is Effect.UNKNOWN or applied.status not in ALLOWED_FROM[Status.DELIVERED]:
            return applied
        arrived = Receipt(ReceiptKind.DELIVERED, receipt.channel, notification_id, receipt.occurred_at)
        settled = self._settle(arrived, notification_id)
        delivered = settled.effect is Effect.CHANGED
        status = settled.status or applied.status
        return Applied(applied.effect, status, applied.priority or settled.priority, delivered=delivered)

    def _update(
        self,
        receipt: Receipt,
        notification_id: str,
        sets: list[str],
        values: dict[str, Any],
        *,
        status: Status | None = None,
        allowed: frozenset[Status] | None = None,
        condition: str | None = None,
        placeholders: dict[str, Any] | None = None,
        remove: str = "",
    ) -> Applied:
        placeholders = dict(placeholders or {})
        if allowed is not None:
            condition, placeholders = status_in(allowed)
        expression = "SET updated_at = :now, " + ", ".join(sets)
        if status is not None:
            expression += ", #status = :status"
            placeholders[":status"] = {"S": status.value}
        if ":pid" in expression:
            placeholders[":pid"] = {"S": receipt.provider_message_id or "unknown"}
        if remove:
            expression += f" REMOVE {remove}"
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"notification_id": {"S": notification_id}, "channel": {"S": receipt.channel.value}},
                UpdateExpression=expression,
                ConditionExpression=cast("str", condition),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":now": {"S": iso(_utcnow())}, **values, **placeholders},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = cast("dict[str, Any]", exc.response.get("Item") or {})
            if "status" not in old:
                return Applied(Effect.UNKNOWN)
            return Applied(Effect.UNCHANGED, Status(old["status"]["S"]), _priority(old))
        new = answer.get("Attributes", {})
        return Applied(Effect.CHANGED, Status(new["status"]["S"]), _priority(new))


def _priority(item: dict[str, Any]) -> Priority | None:
    value = item.get("priority", {}).get("S")
    return Priority(value) if value in {p.value for p in Priority} else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SeenEvents:
    """The ids of vendor events already applied, kept for `ttl_seconds` (three days by default)."""

    def __init__(self, table: str, client: DynamoDBClient, *, ttl_seconds: int = 3 * 86400) -> None:
        self.table = table
        self.client = client
        self.ttl_seconds = ttl_seconds

    def seen(self, vendor: str, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` already applied."""
        keys = [{"id": {"S": _key(vendor, e)}} for e in dict.fromkeys(event_ids)]
        prefix = len(_key(vendor, ""))
        return {item["id"]["S"][prefix:] for item in batch_get(self.client, self.table, keys)}

    def remember(self, vendor: str, event_ids: list[str]) -> None:
        expires = str(int(time.time()) + self.ttl_seconds)
        items = [
            {"id": {"S": _key(vendor, e)}, "expiration": {"N": expires}} for e in dict.fromkeys(event_ids)
        ]
        batch_put(self.client, self.table, items)


def _key(vendor: str, event_id: str) -> str:
    """Beside Powertools' idempotency records, whose ids are `<function>#<hash>`: never `receipt#...`."""
    return f"receipt#{vendor}#{event_id}"
