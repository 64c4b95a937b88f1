"""Reading AWS End User Messaging SMS's delivery events into receipts: the event as the service
documents it ("Example AWS End User Messaging SMS event data"), carrying the `Context` our sends set,
as an SQS record's body carries it: in SNS's envelope, or raw."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from notifier.models.channels import Channel
from notifier.receipts.eum import read_eum_events
from notifier.receipts.models import ReceiptKind

MESSAGE_ID = "862a8790-60c0-4430-9b2b-658bdexample"
NOTIFICATION = "9c4e2a1b-5d6f-4a7b-8c9d-0e1f2a3b4c5d"
TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-EumEvents"
EVENT_MS = 1686975103470

DESCRIPTIONS = {
    "TEXT_DELIVERED": "Message has been accepted by phone",
    "TEXT_SUCCESSFUL": "Message has been accepted by phone carrier",
    "TEXT_QUEUED": "Message is queued for delivery",
    "TEXT_PENDING": "Message is in the process of being delivered",
    "TEXT_BLOCKED": "Destination phone number blocked",
    "TEXT_TTL_EXPIRED": "Message was not delivered before its TTL expired",
    "TEXT_CARRIER_UNREACHABLE": "Carrier network unreachable",
    "TEXT_INVALID": "Invalid destination phone number",
    "TEXT_INVALID_MESSAGE": "Invalid message body",
    "TEXT_CARRIER_BLOCKED": "Blocked by the carrier",
    "TEXT_UNREACHABLE": "Destination phone unreachable",
    "TEXT_SPAM": "Identified as spam by the carrier",
    "TEXT_UNKNOWN": "Unknown error",
    "TEXT_PROTECT_BLOCKED": "Blocked by the protect configuration",
}


def sms_event(
    event_type: str = "TEXT_DELIVERED",
    *,
    final: bool = True,
    notification_id: str | None = NOTIFICATION,
    **overrides: Any,
) -> dict[str, Any]:
    """The documented SMS event, of `event_type`, with the Context our sends set."""
    context: dict[str, str] = {"account": "bar"}
    if notification_id is not None:
        context["notification_id"] = notification_id
    return {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": EVENT_MS,
        "isFinal": final,
        "originationPhoneNumber": "+12065550152",
        "destinationPhoneNumber": "+14255550156",
        "isInternationalSend": False,
        "isoCountryCode": "US",
        "mcc": "310",
        "mnc": "800",
        "messageId": MESSAGE_ID,
        "messageRequestTimestamp": 1686975103170,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": event_type.removeprefix("TEXT_"),
        "messageStatusDescription": DESCRIPTIONS.get(event_type, "Something"),
        "context": context,
        "totalMessageParts": 1,
        "totalMessagePrice": 0.00581,
        "totalCarrierFee": 0.0,
        **overrides,
    }


def sns_envelope(message: dict[str, Any]) -> str:
    """An SQS body as SNS delivers a notification to a queue without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "c9a5f3e2-6b1d-5a4c-9e8f-7d6c5b4a3f21",
            "TopicArn": TOPIC,
            "Message": json.dumps(message),
            "Timestamp": "2023-06-17T04:11:43.512Z",
            "SignatureVersion": "2",
            "Signature": "EXAMPLEw6JRN0H8dF2nvGUoBh1ZpM4uQ==",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem",
            "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1",
        }
    )


WHEN = datetime.fromtimestamp(EVENT_MS / 1000, UTC)


# ------------------------------------------------------------------------------------ each event type


@pytest.mark.parametrize(
    ("event_type", "kind", "suppress"),
    [
        ("TEXT_DELIVERED", ReceiptKind.DELIVERED, False),
        ("TEXT_SUCCESSFUL", ReceiptKind.DELIVERED, False),  # final: some countries say no more
        ("TEXT_INVALID", ReceiptKind.BOUNCED, True),
        ("TEXT_BLOCKED", ReceiptKind.BOUNCED, False),
        ("TEXT_UNREACHABLE", ReceiptKind.BOUNCED, False),
        ("TEXT_CARRIER_UNREACHABLE", ReceiptKind.BOUNCED, False),
        ("TEXT_TTL_EXPIRED", ReceiptKind.BOUNCED, False),
        ("TEXT_UNKNOWN", ReceiptKind.BOUNCED, False),
        ("TEXT_INVALID_MESSAGE", ReceiptKind.BOUNCED, False),
        ("TEXT_CARRIER_BLOCKED", ReceiptKind.BOUNCED, False),
        ("TEXT_SPAM", ReceiptKind.BOUNCED, False),
        ("TEXT_PROTECT_BLOCKED", ReceiptKind.BOUNCED, False),
    ],
)
@pytest.mark.parametrize("wrapped", [True, False], ids=["sns-envelope", "raw"])
def test_each_final_event_type_is_read_into_its_receipt(event_type, kind, suppress, wrapped):
    event = sms_event(event_type)
    body = sns_envelope(event) if wrapped else json.dumps(event)

    [receipt] = read_eum_events(body)

    assert receipt.kind is kind
    assert receipt.suppress is suppress
    assert receipt.channel is Channel.SMS
    assert receipt.notification_id == NOTIFICATION
    assert receipt.provider_message_id == MESSAGE_ID
    assert receipt.address == "+14255550156"
    assert receipt.occurred_at == WHEN
    assert receipt.source == f"eum {event_type}"
    assert receipt.reason == f"eum {event_type}: {DESCRIPTIONS[event_type]}"
    assert receipt.event_id == f"{MESSAGE_ID}:{event_type}:final"


@pytest.mark.parametrize(
    "event",
    [
        sms_event("TEXT_SUCCESSFUL", final=False),
        sms_event("TEXT_QUEUED", final=False),
        sms_event("TEXT_PENDING", final=False),
        sms_event("TEXT_SENT", final=False),
        sms_event("VOICE_COMPLETED"),
        sms_event("TEXT_SOMETHING_NEW"),
    ],
    ids=lambda e: f"{e['eventType']}{'' if e['isFinal'] else ' interim'}",
)
def test_events_of_a_message_on_its_way_and_of_other_kinds_are_no_receipt(event):
    assert read_eum_events(sns_envelope(event)) == []


@pytest.mark.parametrize("event_type", ["TEXT_CARRIER_UNREACHABLE", "TEXT_INVALID", "TEXT_UNKNOWN"])
def test_a_failure_that_is_not_final_only_defers(event_type):
    """The status stays SENT until the final event: a later DELIVERED still counts."""
    [receipt] = read_eum_events(sns_envelope(sms_event(event_type, final=False)))

    assert (receipt.kind, receipt.suppress) == (ReceiptKind.DEFERRED, False)
    assert receipt.event_id == f"{MESSAGE_ID}:{event_type}:interim"


def test_an_event_without_is_final_is_taken_as_final():
    event = sms_event("TEXT_INVALID")
    del event["isFinal"]

    [receipt] = read_eum_events(json.dumps(event))

    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)


def test_the_same_event_delivered_again_has_the_same_event_id():
    first = read_eum_events(sns_envelope(sms_event()))
    again = read_eum_events(json.dumps(sms_event()))

    assert [r.event_id for r in first] == [r.event_id for r in again]


@pytest.mark.parametrize("context", [None, {"account": "bar"}])
def test_an_event_without_our_context_is_not_ours(context):
    event = sms_event("TEXT_INVALID", notification_id=None)
    if context is None:
        del event["context"]

    [receipt] = read_eum_events(sns_envelope(event))

    assert receipt.notification_id is None
    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)


def test_without_a_description_the_status_is_the_reason():
    event = sms_event("TEXT_BLOCKED")
    del event["messageStatusDescription"]

    assert read_eum_events(json.dumps(event))[0].reason == "eum TEXT_BLOCKED: BLOCKED"


# ------------------------------------------------------------------------------------ not EUM events


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<xml/>", "the body is not an End User Messaging SMS event: not JSON"),
        ('"TEXT_DELIVERED"', "the body is not an End User Messaging SMS event: not a JSON object"),
        (
            json.dumps({"Type": "UnsubscribeConfirmation", "Message": "You have chosen to deactivate"}),
            "the body is an SNS UnsubscribeConfirmation, not an End User Messaging SMS event",
        ),
        (json.dumps({"Type": "Notification", "Message": "[]"}), "the SNS envelope's Message is not"),
        (sns_envelope({"messageId": MESSAGE_ID}), "not an End User Messaging SMS event: no eventType"),
        (sns_envelope(sms_event(eventType=["TEXT_DELIVERED"])), "eventType: not a string"),
        (sns_envelope(sms_event(isFinal="true")), "isFinal: not a boolean"),
        (sns_envelope(sms_event(messageId=None)), "messageId: not a string"),
        (sns_envelope(sms_event(eventTimestamp="2023-06-17")), "eventTimestamp: not a Unix time"),
        (sns_envelope(sms_event(eventTimestamp=-1)), "eventTimestamp: not a Unix time"),
        (sns_envelope(sms_event(context="notification_id=x")), "context: not an object"),
        (sns_envelope(sms_event(context={"notification_id": 7})), "context.notification_id: not a string"),
    ],
)
def test_a_body_that_is_not_an_eum_event_is_refused_with_the_reason(body, reason):
    with pytest.raises(ValueError, match="^" + re.escape(reason)):
        read_eum_events(body)
