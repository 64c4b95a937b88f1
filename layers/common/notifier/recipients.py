"""Recipients: who a notification goes to, and at which addresses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import PermanentDeliveryError
from .models import Channel, Envelope, RecipientId, address_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class PushToken(BaseModel):
    token: str = Field(min_length=8, max_length=4096)
    platform: Literal["android", "ios", "web"]


class Contacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = None
    phone: str | None = Field(default=None, description="E.164, such as +14155550100")
    push_tokens: list[PushToken] = Field(default_factory=list, max_length=20)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _checked(Channel.EMAIL, value)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return _checked(Channel.SMS, value)


class Recipient(BaseModel):
    recipient_id: RecipientId
    contacts: Contacts = Field(default_factory=Contacts)
    locale: str = "en"
    timezone: str = "UTC"

    def addresses(self, channel: Channel) -> list[str]:
        match channel:
            case Channel.EMAIL:
                return [self.contacts.email] if self.contacts.email else []
            case Channel.SMS:
                return [self.contacts.phone] if self.contacts.phone else []
            case Channel.PUSH:
                return [t.token for t in self.contacts.push_tokens]


class RecipientStore:
    """Table keyed by `recipient_id`; the rest of the recipient is one JSON document."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def get(self, recipient_id: str) -> Recipient | None:
        item = self.client.get_item(TableName=self.table, Key={"recipient_id": {"S": recipient_id}}).get(
            "Item"
        )
        if not item:
            return None
        return Recipient.model_validate_json(item["document"]["S"])

    def put(self, recipient: Recipient) -> None:
        self.client.put_item(TableName=self.table, Item=self.item(recipient))

    @staticmethod
    def item(recipient: Recipient) -> dict[str, Any]:
        return {
            "recipient_id": {"S": recipient.recipient_id},
            "document": {"S": recipient.model_dump_json()},
        }


def resolve_addresses(envelope: Envelope, channel: Channel, recipients: RecipientStore | None) -> list[str]:
    """The addresses to send to: the envelope's inline one, else the recipient's contacts."""
    inline = envelope.addresses.get(channel)
    if inline:
        return [inline]
    if recipients is None:
        raise PermanentDeliveryError(f"no inline {channel} address and no recipient store")
    recipient = recipients.get(envelope.recipient_id)
    if recipient is None:
        raise PermanentDeliveryError(f"unknown recipient {envelope.recipient_id!r}")
    found = recipient.addresses(channel)
    if not found:
        raise PermanentDeliveryError(f"recipient {envelope.recipient_id!r} has no {channel} address")
    return found


def _checked(channel: Channel, value: str | None) -> str | None:
    if value is None:
        return None
    problem = address_problem(channel, value)
    if problem:
        raise ValueError(problem)
    return value
