"""Circuit breakers: whether a channel's provider is down, as every execution environment sees it.

One item per channel and provider (`breaker#<channel>#<provider>`), so a thousand environments do
not each rediscover an outage:

- **Failures** are counted in two fixed buckets of `window_seconds` (`f<window index>`), read as a
  sliding-window estimate: the current bucket, plus the previous one weighted by how much of it the
  sliding window still covers. One write per batch that had provider-level failures.
- **Open** (`open_until` ahead): the primary is not called; its messages go to the fallback. Opening
  is one conditional write, so one environment opens it (and counts it opened).
- **Half-open** (`open_until` passed): one environment at a time wins the probe (a conditional write
  with a lease, so a prober that dies does not strand it) and tries the primary; success closes the
  breaker, another provider-level failure opens it again for a cool-down.
- **Closed**: no `open_until`.

Reads are eventually consistent and made once per batch. A breaker that cannot be read is taken as
closed: the primary is tried, as if there were no breaker.

The design follows AWS's circuit breaker pattern (Prescriptive Guidance, "Circuit breaker pattern")
and Powertools' DynamoDB circuit breaker, counting failures across environments rather than in each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int
    """Provider-level failures within `window_seconds` that open the breaker."""
    window_seconds: int
    cooldown_seconds: int
    """How long an open breaker keeps the primary out before a probe."""
    probe_lease_seconds: int


def breaker_key(channel: str, provider: str) -> str:
    return f"breaker#{channel}#{provider}"


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _n(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}"}


class BreakerStore:
    """Table keyed by `id`. `me` names this execution environment (for the probe's ownership)."""

    def __init__(self, table: str, client: DynamoDBClient, policy: BreakerPolicy) -> None:
        self.table = table
        self.client = client
        self.policy = policy
        self.me = uuid.uuid4().hex

    def state(self, key: str, now: datetime) -> BreakerState:
        item = self.client.get_item(TableName=self.table, Key={"id": {"S": key}}).get("Item", {})
        open_until = item.get("open_until")
        if open_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if float(open_until["N"]) > _epoch(now) else BreakerState.HALF_OPEN

    def record_failures(self, key: str, count: int, now: datetime) -> bool:
        """Count `count` provider-level failures; open the breaker if that makes enough within the
        window. True when this call opened it."""
        window = self.policy.window_seconds
        at = _epoch(now)
        index = int(at // window)
        answer = self.client.update_item(
            TableName=self.table,
            Key={"id": {"S": key}},
            UpdateExpression="ADD #cur :k SET updated_at = :now REMOVE #old, #older",
            ExpressionAttributeNames={
                "#cur": f"f{index}",
                "#old": f"f{index - 2}",
                "#older": f"f{index - 3}",
            },
            ExpressionAttributeValues={":k": {"N": str(count)}, ":now": _n(at)},
            ReturnValues="ALL_NEW",
        )
        item = answer["Attributes"]
        current = float(item.get(f"f{index}", {}).get("N", 0))
        previous = float(item.get(f"f{index - 1}", {}).get("N", 0))
        estimate = current + previous * (1 - (at % window) / window)
        if estimate < self.policy.failures:
            return False
        return self._conditional(
            key,
            "SET open_until = :until, opened_at = :now REMOVE probe_owner, probe_until, #cur, #prev",
            "attribute_not_exists(open_until) OR open_until <= :now",
            {":until": _n(at + self.policy.cooldown_seconds), ":now": _n(at)},
            names={"#cur": f"f{index}", "#prev": f"f{index - 1}"},
        )

    def try_probe(self, key: str, now: datetime) -> bool:
        """Whether this environment is the one to try the primary again (the breaker's cool-down
        over, and no other environment's probe under way)."""
        at = _epoch(now)
        return self._conditional(
            key,
            "SET probe_owner = :me, probe_until = :lease",
            "open_until <= :now AND (attribute_not_exists(probe_owner) OR probe_until <= :now)",
            {":me": {"S": self.me}, ":lease": _n(at + self.policy.probe_lease_seconds), ":now": _n(at)},
        )

    def close(self, key: str) -> bool:
        """The probe succeeded: the primary is back. True when this call closed it."""
        return self._conditional(
            key,
            "REMOVE open_until, opened_at, probe_owner, probe_until",
            "probe_owner = :me",
            {":me": {"S": self.me}},
        )

    def reopen(self, key: str, now: datetime) -> bool:
        """The probe failed: another cool-down."""
        at = _epoch(now)
        return self._conditional(
            key,
            "SET open_until = :until REMOVE probe_owner, probe_until",
            "probe_owner = :me",
            {":me": {"S": self.me}, ":until": _n(at + self.policy.cooldown_seconds)},
        )

    def _conditional(
        self,
        key: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
    ) -> bool:
        call: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"id": {"S": key}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:  # DynamoDB refuses names the expressions do not use
            call["ExpressionAttributeNames"] = names
        try:
            self.client.update_item(**call)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
