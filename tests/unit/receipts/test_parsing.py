"""Reading the vendors' events into receipts: SendGrid's Event Webhook events and Twilio's status
callbacks, shaped as the vendors document them (field names, types, form encoding)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest

from notifier.errors import InvalidBodyError
from notifier.models.channels import Channel
from notifier.receipts import sendgrid, twilio
from notifier.receipts.models import ReceiptKind

T = 1_764_763_200  # 2025-12-03T12:00:00Z


def event(name: str, **fields: object) -> dict[str, object]:
    """An event as SendGrid documents it (docs: Event Webhook reference), with our custom_arg."""
    return {
        "email": "Ana@Example.com",
        "timestamp": T,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": name,
        "category": ["cat facts"],
        "sg_event_id": f"sg-{name}-{len(fields)}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "notification_id": "n-1",
        **fields,
    }


@pytest.mark.parametrize(
    ("sent", "kind", "suppress"),
    [
        (event("delivered", response="250 OK"), ReceiptKind.DELIVERED, False),
        (
            event("bounce", reason="500 unknown recipient", status="5.0.0", type="bounce"),
            ReceiptKind.BOUNCED,
            True,
        ),
        (
            event("bounce", reason="550 blocked by policy", status="5.7.1", type="blocked"),
            ReceiptKind.DEFERRED,
            False,
        ),
        (event("bounce", reason="500 unknown recipient", status="5.0.0"), ReceiptKind.BOUNCED, True),
        (event("dropped", reason="Bounced Address", status="5.0.0"), ReceiptKind.BOUNCED, True),
        (event("dropped", reason="Spam Content (if spam checker app enabled)"), ReceiptKind.BOUNCED, False),
        (event("deferred", response="400 try again later", attempt="5"), ReceiptKind.DEFERRED, False),
        (event("open", useragent="Mozilla/4.0", ip="255.255.255.255"), ReceiptKind.OPENED, False),
        (
            event("click", url="http://www.sendgrid.com/", url_offset={"index": 0, "type": "html"}),
            ReceiptKind.CLICKED,
            False,
        ),
        (event("spamreport"), ReceiptKind.COMPLAINED, True),
        (event("unsubscribe"), ReceiptKind.UNSUBSCRIBED, True),
        (event("group_unsubscribe", asm_group_id=10), ReceiptKind.UNSUBSCRIBED, True),
    ],
    ids=lambda value: value if isinstance(value, ReceiptKind | bool) else value["event"],
)
def test_each_sendgrid_event_is_the_receipt_the_docs_say(sent, kind, suppress):
    [receipt] = sendgrid.parse(json.dumps([sent])).receipts

    assert receipt.kind is kind
    assert receipt.suppress is suppress
    assert receipt.channel is Channel.EMAIL
    assert receipt.notification_id == "n-1"
    assert receipt.event_id == sent["sg_event_id"]
    assert receipt.address == "Ana@Example.com"
    assert receipt.occurred_at == datetime.fromtimestamp(T, UTC)
    assert receipt.provider_message_id == "14c5d75ce93"  # the X-Message-Id the send was answered


def test_a_bounce_keeps_its_reason_and_says_who_said_so():
    sent = event("bounce", reason="550 5.1.1 no such user", status="5.1.1", type="bounce")

    [receipt] = sendgrid.parse(json.dumps([sent])).receipts

    assert receipt.reason == "sendgrid bounce: 550 5.1.1 no such user"
    assert receipt.source == "sendgrid bounce (bounce)"


def test_events_that_change_nothing_are_counted_as_ignored():
    batch = sendgrid.parse(json.dumps([event("processed"), event("group_resubscribe"), event("delivered")]))

    assert [r.kind for r in batch.receipts] == [ReceiptKind.DELIVERED]
    assert batch.ignored == 2
    assert batch.invalid == []


def test_an_event_without_our_custom_arg_is_a_receipt_for_no_notification():
    sent = event("delivered")
    del sent["notification_id"]

    [receipt] = sendgrid.parse(json.dumps([sent])).receipts

    assert receipt.notification_id is None


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        ("not an object", "not an object"),
        ({**event("delivered"), "timestamp": "yesterday"}, "timestamp"),
        ({**event("delivered"), "timestamp": True}, "timestamp"),
        ({**event("delivered"), "event": 7}, "event"),
        ({**event("delivered"), "sg_event_id": ["a"]}, "sg_event_id"),
        ({**event("delivered"), "notification_id": ""}, "notification_id"),
    ],
)
def test_an_event_that_cannot_be_read_is_skipped_with_why_and_the_rest_apply(sent, problem):
    batch = sendgrid.parse(json.dumps([sent, event("delivered")]))

    assert len(batch.receipts) == 1
    assert len(batch.invalid) == 1
    assert batch.invalid[0].startswith("[0]: ")
    assert problem in batch.invalid[0]


@pytest.mark.parametrize("body", ["{}", '{"event": "delivered"}', "not json", "", "null", "[1, 2"])
def test_a_body_that_is_not_a_json_array_is_a_400_naming_the_body(body):
    with pytest.raises(InvalidBodyError) as refused:
        sendgrid.parse(body)
    assert list(refused.value.problems) == ["body"]


# ---------------------------------------------------------------------------------------- Twilio


def callback(status: str, **fields: str) -> dict[str, list[str]]:
    """A status callback as Twilio posts it (form-encoded), read back as a form."""
    sent = {
        "AccountSid": "AC" + "a" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": "SM" + "b" * 32,
        "MessageStatus": status,
        "SmsSid": "SM" + "b" * 32,
        "SmsStatus": status,
        "To": "+34600000001",
        **fields,
    }
    return parse_qs(urlencode(sent), keep_blank_values=True)


@pytest.mark.parametrize(
    ("status", "fields", "kind", "suppress"),
    [
        ("delivered", {}, ReceiptKind.DELIVERED, False),
        ("undelivered", {"ErrorCode": "30005"}, ReceiptKind.BOUNCED, True),
        ("undelivered", {"ErrorCode": "30003"}, ReceiptKind.BOUNCED, False),
        ("failed", {"ErrorCode": "30006"}, ReceiptKind.BOUNCED, True),
        ("failed", {"ErrorCode": "21610"}, ReceiptKind.BOUNCED, True),
        ("failed", {"ErrorCode": "30008"}, ReceiptKind.BOUNCED, False),
        ("read", {}, ReceiptKind.OPENED, False),
    ],
)
def test_each_twilio_status_is_the_receipt_it_means(status, fields, kind, suppress):
    receipt = twilio.parse(callback(status, **fields), "n-1")

    assert receipt is not None
    assert (receipt.kind, receipt.suppress) == (kind, suppress)
    assert receipt.channel is Channel.SMS
    assert receipt.notification_id == "n-1"
    assert receipt.address == "+34600000001"
    assert receipt.provider_message_id == "SM" + "b" * 32
    assert receipt.event_id == f"SM{'b' * 32}:{status}"


def test_a_failed_sms_says_its_error_code_and_what_it_means():
    receipt = twilio.parse(callback("undelivered", ErrorCode="30005"), "n-1")

    assert receipt is not None
    assert receipt.reason == "twilio undelivered: error 30005 (unknown destination handset)"
    assert receipt.source == "twilio 30005"


@pytest.mark.parametrize("status", ["queued", "sending", "sent", "accepted", "scheduled", "canceled", ""])
def test_statuses_on_the_way_change_nothing(status):
    assert twilio.parse(callback(status), "n-1") is None
