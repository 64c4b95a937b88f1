"""Publishing: from an API request to one SNS message, and its ACCEPTED status."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError
from .models import (
    DIRECT_EVENT_TYPE,
    Envelope,
    EventContent,
    EventRequest,
    MessageContent,
    PublishRequest,
)
from .observability import logger
from .routing import route_event, route_notification
from .status import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


def notification_envelope(request: PublishRequest, *, correlation_id: str) -> Envelope:
    route = route_notification(request)
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id=request.recipient_id,
        event_type=DIRECT_EVENT_TYPE,
        priority=route.priority,
        channels=route.channels,
        content=MessageContent(body=request.message_body, subject=request.subject),
        addresses={request.type: request.to} if request.to else {},
        created_at=datetime.now(UTC),
    )


def event_envelope(request: EventRequest, *, correlation_id: str) -> Envelope:
    route = route_event(request)
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id=request.user_id,
        event_type=request.event_type,
        priority=route.priority,
        channels=route.channels,
        content=EventContent(payload=request.payload.model_dump(mode="json", exclude_none=True)),
        created_at=datetime.now(UTC),
    )


def message_attributes(envelope: Envelope) -> dict[str, MessageAttributeValueTypeDef]:
    """The attributes the subscriptions' filter policies select on."""
    return {
        "channel": {
            "DataType": "String.Array",
            "StringValue": json.dumps([c.value for c in envelope.channels]),
        },
        "priority": {"DataType": "String", "StringValue": envelope.priority.value},
        "event_type": {"DataType": "String", "StringValue": str(envelope.event_type)},
        "correlation_id": {"DataType": "String", "StringValue": envelope.correlation_id},
    }


class Publisher:
    def __init__(self, topic_arn: str, status: StatusStore, client: SNSClient) -> None:
        self.topic_arn = topic_arn
        self.status = status
        self.client = client

    def publish(self, envelope: Envelope) -> None:
        """Publish once to SNS, then record ACCEPTED. Raises PublishError if SNS refused it."""
        try:
            sns_message_id = self.client.publish(
                TopicArn=self.topic_arn,
                Message=envelope.model_dump_json(),
                MessageAttributes=message_attributes(envelope),
            )["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            logger.exception("SNS publish failed", extra={"notification_id": envelope.notification_id})
            raise PublishError("the notification could not be queued; try again") from exc
        logger.info(
            "notification published",
            extra={
                "notification_id": envelope.notification_id,
                "sns_message_id": sns_message_id,
                "channels": [c.value for c in envelope.channels],
                "priority": envelope.priority.value,
            },
        )
        try:
            self.status.accept(envelope)
        except (BotoCoreError, ClientError):
            # The message is on its way and the consumer writes the status it reaches; answering an
            # error here would make the client publish it a second time.
            logger.exception("could not record ACCEPTED", extra={"notification_id": envelope.notification_id})
