"""Reading Amazon SES's sending events into receipts: the events as SES publishes them through a
configuration set to SNS (the examples of "Examples of event data that Amazon SES publishes to Amazon
SNS", with our `notification_id` tag added), as an SQS record's body carries them: in SNS's envelope,
or raw."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from notifier.models.channels import Channel
from notifier.receipts.models import ReceiptKind
from notifier.receipts.ses import read_ses_events, sns_message

MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
NOTIFICATION = "3f2b1c9e-7a4d-4e8f-9b6a-1d2c3e4f5a6b"
TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-SesEvents"


def mail(
    *, sent: str = "2017-08-05T00:40:02.012Z", notification_id: str | None = NOTIFICATION
) -> dict[str, Any]:
    """The `mail` object of SES's examples, with our tag among SES's own."""
    tags: dict[str, list[str]] = {
        "ses:configuration-set": ["ConfigSet"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["ses_user"],
    }
    if notification_id is not None:
        tags["notification_id"] = [notification_id]
    return {
        "timestamp": sent,
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": MESSAGE_ID,
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Sender Name <sender@example.com>"},
            {"name": "To", "value": "recipient@example.com"},
            {"name": "Subject", "value": "Message sent from Amazon SES"},
            {"name": "MIME-Version", "value": "1.0"},
        ],
        "commonHeaders": {
            "from": ["Sender Name <sender@example.com>"],
            "to": ["recipient@example.com"],
            "messageId": MESSAGE_ID,
            "subject": "Message sent from Amazon SES",
        },
        "tags": tags,
    }


def bounce(bounce_type: str = "Permanent", sub_type: str = "General", **overrides: Any) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {
                    "emailAddress": "recipient@example.com",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
            **overrides,
        },
        "mail": mail(),
    }


def complaint(**overrides: Any) -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2017-08-05T00:41:02.669Z",
            **overrides,
        },
        "mail": mail(sent="2017-08-05T00:40:01.123Z"),
    }


def delivery() -> dict[str, Any]:
    return {
        "eventType": "Delivery",
        "mail": mail(sent="2016-10-19T23:20:52.240Z"),
        "delivery": {
            "timestamp": "2016-10-19T23:21:04.133Z",
            "processingTimeMillis": 11893,
            "recipients": ["recipient@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "mta.example.com",
        },
    }


def send() -> dict[str, Any]:
    return {"eventType": "Send", "mail": mail(sent="2016-10-14T05:02:16.645Z"), "send": {}}


def reject() -> dict[str, Any]:
    return {
        "eventType": "Reject",
        "mail": mail(sent="2016-10-14T17:38:15.211Z"),
        "reject": {"reason": "Bad content"},
    }


def opened() -> dict[str, Any]:
    return {
        "eventType": "Open",
        "mail": mail(sent="2017-08-09T21:59:49.927Z"),
        "open": {
            "ipAddress": "192.0.2.1",
            "timestamp": "2017-08-09T22:00:19.652Z",
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/603.3.8",
        },
    }


def clicked() -> dict[str, Any]:
    return {
        "eventType": "Click",
        "click": {
            "ipAddress": "192.0.2.1",
            "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
            "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
            "timestamp": "2017-08-09T23:51:25.570Z",
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
        },
        "mail": mail(sent="2017-08-09T23:50:05.795Z"),
    }


def rendering_failure() -> dict[str, Any]:
    return {
        "eventType": "Rendering Failure",
        "mail": mail(sent="2018-01-22T18:43:06.197Z"),
        "failure": {
            "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
            "templateName": "MyTemplate",
        },
    }


def delivery_delay() -> dict[str, Any]:
    return {
        "eventType": "DeliveryDelay",
        "mail": mail(sent="2020-06-16T00:15:40.641Z"),
        "deliveryDelay": {
            "timestamp": "2020-06-16T00:25:40.095Z",
            "delayType": "TransientCommunicationFailure",
            "expirationTime": "2020-06-16T00:25:40.914Z",
            "delayedRecipients": [
                {
                    "emailAddress": "recipient@example.com",
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        },
    }


def subscription(*, unsubscribe_all: bool = True, topic_status: str = "OptOut") -> dict[str, Any]:
    return {
        "eventType": "Subscription",
        "mail": mail(sent="2022-01-12T01:00:14.340Z"),
        "subscription": {
            "contactList": "ContactListName",
            "timestamp": "2022-01-12T01:00:17.910Z",
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {
                "unsubscribeAll": unsubscribe_all,
                "topicSubscriptionStatus": [
                    {"topicName": "ExampleTopicName", "subscriptionStatus": topic_status}
                ],
            },
            "oldTopicPreferences": {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptIn"}],
            },
        },
    }


def sns_envelope(
    message: dict[str, Any], *, sns_message_id: str = "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
) -> str:
    """An SQS body as SNS delivers a notification to a queue without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": sns_message_id,
            "TopicArn": TOPIC,
            "Message": json.dumps(message),
            "Timestamp": "2017-08-05T00:41:03.001Z",
            "SignatureVersion": "1",
            "Signature": (
                "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkk"
                "OxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="
            ),
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        }
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ------------------------------------------------------------------------------------ each event type


@pytest.mark.parametrize(
    ("event", "kind", "suppress", "source", "reason", "occurred_at"),
    [
        (
            delivery(),
            ReceiptKind.DELIVERED,
            False,
            "ses delivery",
            "ses delivery",
            "2016-10-19T23:21:04.133Z",
        ),
        (
            bounce(),
            ReceiptKind.BOUNCED,
            True,
            "ses bounce Permanent/General",
            "ses bounce Permanent/General: smtp; 550 5.1.1 user unknown",
            "2017-08-05T00:41:02.669Z",
        ),
        (
            bounce("Transient", "MailboxFull"),
            ReceiptKind.DEFERRED,
            False,
            "ses bounce Transient/MailboxFull",
            "ses bounce Transient/MailboxFull: smtp; 550 5.1.1 user unknown",
            "2017-08-05T00:41:02.669Z",
        ),
        (
            bounce(
                "Undetermined", "Undetermined", bouncedRecipients=[{"emailAddress": "recipient@example.com"}]
            ),
            ReceiptKind.DEFERRED,
            False,
            "ses bounce Undetermined/Undetermined",
            "ses bounce Undetermined/Undetermined: Undetermined",
            "2017-08-05T00:41:02.669Z",
        ),
        (
            complaint(),
            ReceiptKind.COMPLAINED,
            True,
            "ses complaint abuse",
            "ses complaint abuse",
            "2017-08-05T00:41:02.669Z",
        ),
        (
            reject(),
            ReceiptKind.BOUNCED,
            False,
            "ses reject",
            "ses reject: Bad content",
            "2016-10-14T17:38:15.211Z",  # a reject has no time of its own: the message's
        ),
        (
            rendering_failure(),
            ReceiptKind.BOUNCED,
            False,
            "ses rendering failure",
            "ses rendering failure: Attribute 'attributeName' is not present in the rendering data.",
            "2018-01-22T18:43:06.197Z",
        ),
        (
            delivery_delay(),
            ReceiptKind.DEFERRED,
            False,
            "ses delivery delay TransientCommunicationFailure",
            "ses delivery delay TransientCommunicationFailure: "
            "smtp; 421 4.4.1 Unable to connect to remote host",
            "2020-06-16T00:25:40.095Z",
        ),
        (opened(), ReceiptKind.OPENED, False, "ses open", "ses open", "2017-08-09T22:00:19.652Z"),
        (clicked(), ReceiptKind.CLICKED, False, "ses click", "ses click", "2017-08-09T23:51:25.570Z"),
        (
            subscription(),
            ReceiptKind.UNSUBSCRIBED,
            True,
            "ses subscription UnsubscribeHeader",
            "ses subscription UnsubscribeHeader: unsubscribed",
            "2022-01-12T01:00:17.910Z",
        ),
    ],
    ids=lambda value: value["eventType"] if isinstance(value, dict) else None,
)
@pytest.mark.parametrize("wrapped", [True, False], ids=["sns-envelope", "raw"])
def test_each_event_type_is_read_into_its_receipt(  # noqa: PLR0917 - pytest passes them by name
    event, kind, suppress, source, reason, occurred_at, wrapped
):
    body = sns_envelope(event) if wrapped else json.dumps(event)

    [receipt] = read_ses_events(body)

    assert receipt.kind is kind
    assert receipt.channel is Channel.EMAIL
    assert receipt.notification_id == NOTIFICATION
    assert receipt.provider_message_id == MESSAGE_ID
    assert receipt.address == "recipient@example.com"
    assert receipt.suppress is suppress
    assert receipt.source == source
    assert receipt.reason == reason
    assert receipt.occurred_at == at(occurred_at)
    assert receipt.event_id is not None
    assert receipt.event_id.startswith(f"{MESSAGE_ID}:{event['eventType']}:")


@pytest.mark.parametrize(
    "event",
    [
        send(),
        complaint(complaintFeedbackType="not-spam"),
        subscription(unsubscribe_all=False, topic_status="OptIn"),
        {"eventType": "SomethingNew", "mail": mail(), "somethingNew": {}},
    ],
    ids=["Send", "Complaint not-spam", "Subscription opt-in", "a type added later"],
)
def test_events_that_change_nothing_are_no_receipt(event):
    assert read_ses_events(sns_envelope(event)) == []


def test_an_unsubscribe_from_one_topic_is_an_unsubscribe():
    [receipt] = read_ses_events(sns_envelope(subscription(unsubscribe_all=False, topic_status="OptOut")))

    assert (receipt.kind, receipt.suppress) == (ReceiptKind.UNSUBSCRIBED, True)


def test_a_complaint_about_an_address_on_the_account_suppression_list_is_a_bounce_not_an_open():
    """SES did not send it: COMPLAINED would prove it arrived (engagement moves SENT to DELIVERED)."""
    [receipt] = read_ses_events(sns_envelope(complaint(complaintSubType="OnAccountSuppressionList")))

    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)
    assert receipt.source == "ses complaint OnAccountSuppressionList"


@pytest.mark.parametrize("sub_type", ["NoEmail", "Suppressed", "OnAccountSuppressionList"])
def test_every_permanent_bounce_suppresses(sub_type):
    [receipt] = read_ses_events(sns_envelope(bounce("Permanent", sub_type)))

    assert (receipt.kind, receipt.suppress, receipt.source) == (
        ReceiptKind.BOUNCED,
        True,
        f"ses bounce Permanent/{sub_type}",
    )


# ------------------------------------------------------------------------------------ recipients, ids


def test_a_bounce_of_several_recipients_is_one_receipt_each_with_its_own_reason_and_id():
    event = bounce(
        bouncedRecipients=[
            {"emailAddress": "a@example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no a"},
            {"emailAddress": "b@example.com", "status": "5.2.1"},
        ]
    )

    receipts = read_ses_events(sns_envelope(event))

    assert [(r.address, r.reason, r.suppress) for r in receipts] == [
        ("a@example.com", "ses bounce Permanent/General: smtp; 550 5.1.1 no a", True),
        ("b@example.com", "ses bounce Permanent/General: 5.2.1", True),
    ]
    assert len({r.event_id for r in receipts}) == 2


def test_the_same_event_delivered_again_has_the_same_event_id_and_it_names_no_address():
    first = read_ses_events(sns_envelope(bounce(), sns_message_id="one"))
    again = read_ses_events(json.dumps(bounce()))  # raw, or in another envelope: the same event

    assert [r.event_id for r in first] == [r.event_id for r in again]
    assert first[0].event_id is not None
    assert "recipient" not in first[0].event_id
    assert "example.com" not in first[0].event_id


def test_event_ids_differ_by_event_type():
    ids = {read_ses_events(sns_envelope(e))[0].event_id for e in (delivery(), opened(), clicked(), bounce())}

    assert len(ids) == 4


def test_a_message_level_event_to_several_addresses_names_and_suppresses_none():
    event = subscription()
    event["mail"]["destination"] = ["a@example.com", "b@example.com"]

    [receipt] = read_ses_events(sns_envelope(event))

    assert (receipt.kind, receipt.address, receipt.suppress) == (ReceiptKind.UNSUBSCRIBED, None, False)
    assert receipt.event_id == f"{MESSAGE_ID}:Subscription"


def test_an_event_without_our_tag_is_not_ours():
    event = bounce()
    event["mail"] = mail(notification_id=None)

    [receipt] = read_ses_events(sns_envelope(event))

    assert receipt.notification_id is None
    assert (receipt.kind, receipt.suppress) == (ReceiptKind.BOUNCED, True)  # the address is dead anyway


def test_an_event_without_any_tags_is_not_ours():
    event = delivery()
    del event["mail"]["tags"]

    assert read_ses_events(json.dumps(event))[0].notification_id is None


def test_a_bounce_without_its_own_timestamp_takes_the_message_time():
    event = bounce()
    del event["bounce"]["timestamp"]

    assert read_ses_events(json.dumps(event))[0].occurred_at == at("2017-08-05T00:40:02.012Z")


def test_a_long_diagnostic_is_cut():
    event = bounce(bouncedRecipients=[{"emailAddress": "a@example.com", "diagnosticCode": "x" * 2000}])

    [receipt] = read_ses_events(json.dumps(event))

    assert receipt.reason is not None
    assert len(receipt.reason) == 500


# ------------------------------------------------------------------------------------ not SES events


def broken(change: str) -> str:
    event = copy.deepcopy(bounce())
    match change:
        case "no mail":
            del event["mail"]
        case "no messageId":
            del event["mail"]["messageId"]
        case "tag not a list":
            event["mail"]["tags"]["notification_id"] = NOTIFICATION
        case "tags not an object":
            event["mail"]["tags"] = ["notification_id"]
        case "no bounce object":
            del event["bounce"]
        case "no recipients":
            event["bounce"]["bouncedRecipients"] = []
        case "recipient without address":
            event["bounce"]["bouncedRecipients"] = [{"status": "5.1.1"}]
        case "bad timestamp":
            event["bounce"]["timestamp"] = "yesterday"
        case "timestamp without offset":
            event["bounce"]["timestamp"] = "2017-08-05T00:41:02.669"
        case "eventType not a string":
            event["eventType"] = 7
        case "destination not a list":
            event["mail"]["destination"] = "recipient@example.com"
    return sns_envelope(event)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "the body is not an SES event: not JSON"),
        ("[1, 2]", "the body is not an SES event: not a JSON object"),
        (
            json.dumps({"Type": "Notification", "MessageId": "m", "Message": "{oops"}),
            "the SNS envelope's Message is not an SES event: not JSON",
        ),
        (
            json.dumps({"Type": "Notification", "MessageId": "m", "Message": {"eventType": "Bounce"}}),
            "the SNS envelope's Message is not a string",
        ),
        (
            json.dumps(
                {
                    "Type": "SubscriptionConfirmation",
                    "Message": "You have chosen to subscribe to the topic ...",
                    "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
                }
            ),
            "the body is an SNS SubscriptionConfirmation, not an SES event",
        ),
        (
            sns_envelope({"notificationType": "Bounce", "bounce": bounce()["bounce"], "mail": mail()}),
            "an SES identity notification (notificationType)",
        ),
        (json.dumps({"hello": "world"}), "not an SES event: no eventType"),
        (broken("no mail"), "mail: not an object"),
        (broken("no messageId"), "mail.messageId: not a string"),
        (broken("tag not a list"), "mail.tags.notification_id: not a list of strings"),
        (broken("tags not an object"), "mail.tags: not an object"),
        (broken("no bounce object"), "bounce: not an object"),
        (broken("no recipients"), "bounce.bouncedRecipients: not a list of recipients"),
        (broken("recipient without address"), "bounce.bouncedRecipients[0].emailAddress: not a string"),
        (broken("bad timestamp"), "bounce.timestamp: not an ISO 8601 time"),
        (broken("timestamp without offset"), "bounce.timestamp: no UTC offset"),
        (broken("eventType not a string"), "eventType: not a string"),
        (broken("destination not a list"), "mail.destination: not a list of addresses"),
    ],
)
def test_a_body_that_is_not_an_ses_event_is_refused_with_the_reason(body, reason):
    with pytest.raises(ValueError, match="^" + re.escape(reason)):
        read_ses_events(body)


def test_sns_message_takes_the_raw_event_as_it_is():
    assert sns_message(json.dumps(delivery()), "an SES event") == delivery()
