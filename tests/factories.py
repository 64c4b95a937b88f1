"""Test data: envelopes as the publish function writes them. Events and contexts are built by
`devstack.lambda_events`, shared with the local stack and the benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notifier.models.channels import Channel
from notifier.models.envelope import Envelope, MessageContent


def email_envelope(
    address: str = "someone@example.com",
    *,
    correlation_id: str = "test-correlation",
    notification_id: str | None = None,
) -> Envelope:
    """An e-mail notification to an inline address, for a recipient the store does not have."""
    return Envelope(
        notification_id=notification_id or str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id="nobody-stored",
        event_type="NOTIFICATION",
        priority="standard",
        channels=[Channel.EMAIL],
        content=MessageContent(body="hello", subject="Hi"),
        addresses={Channel.EMAIL: address},
        created_at=datetime.now(UTC),
    )
