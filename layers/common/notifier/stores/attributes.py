"""How the stores write values into DynamoDB attributes and read them back: times (`iso`, the one
format every time the service writes takes; `epoch_seconds` for a number), error texts
(`error_text`, scrubbed of addresses at the store's boundary, see `masking`), conditions on a row's
status (`status_in`) and string attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notifier.models.statuses import Status
from notifier.platform.masking import scrub

_MAX_ERROR_CHARS = 1000


def error_text(text: str) -> str:
    """What is stored of an error or a reason: scrubbed of addresses, then cut to its maximum length
    (in that order, so the cut cannot leave part of an address that `scrub` would not recognise)."""
    return scrub(text)[:_MAX_ERROR_CHARS]


def iso(moment: datetime) -> str:
    """`moment` in UTC, to the millisecond, as every time in the table is written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_seconds(moment: datetime) -> str:
    """`moment` as seconds since the epoch, to the millisecond, as a number attribute is written."""
    return f"{moment.timestamp():.3f}"


def status_in(statuses: frozenset[Status]) -> tuple[str, dict[str, Any]]:
    """A condition that the current status is one of `statuses`, and its placeholder values."""
    placeholders = {f":from{i}": {"S": s.value} for i, s in enumerate(sorted(statuses))}
    return f"#status IN ({', '.join(placeholders)})", placeholders


def string_attribute(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value else None
