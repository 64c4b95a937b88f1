"""The fallbacks' receipts end to end in moto: a notification published and sent, then SES's (or End
User Messaging SMS's) event as an SQS record's body carries it from the configuration set's SNS
topic, read (`notifier.receipts.ses`, `notifier.receipts.eum`) and applied the way the webhooks apply
SendGrid's and Twilio's (`notifier.receipts.ingest`), and what `GET /event/{id}` and the suppression
list then say."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devstack.lambda_events import api_event, load_event
from notifier import runtime
from notifier.models.responses import ReceiptsApplied
from notifier.receipts.eum import read_eum_events
from notifier.receipts.ingest import ingest
from notifier.receipts.ses import read_ses_events
from tests.functional import test_receipts
from tests.functional.test_receipts import email_to, sms_to
from tests.unit.receipts import test_eum_events as eum_samples
from tests.unit.receipts import test_ses_events as ses_samples

# The receipts tests' fixtures: the stack's publish function and consumers, sending to the sandbox.
flow = test_receipts.flow

Reader = Callable[[str], list[Any]]
READERS: dict[str, Reader] = {"ses": read_ses_events, "eum": read_eum_events}


def applied(vendor: str, bodies: list[str]) -> ReceiptsApplied:
    """What a batch of SQS records' bodies does, read and applied as the webhooks apply theirs."""
    receipts = [receipt for body in bodies for receipt in READERS[vendor](body)]
    return ingest(vendor, receipts, runtime.receipt_deps())


def ses_event(make: Callable[[], dict[str, Any]], notification_id: str, address: str) -> str:
    """One of SES's documented events (tests/unit/receipts/test_ses_events.py), about our message
    to `address`, in SNS's envelope."""
    event = make()
    event["mail"]["tags"]["notification_id"] = [notification_id]
    event["mail"]["destination"] = [address]
    for name, recipients in (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients")):
        for recipient in event.get(name, {}).get(recipients, []):
            recipient["emailAddress"] = address
    if "delivery" in event:
        event["delivery"]["recipients"] = [address]
    return ses_samples.sns_envelope(event)


def eum_event(event_type: str, notification_id: str, number: str) -> str:
    event = eum_samples.sms_event(event_type, notification_id=notification_id, destinationPhoneNumber=number)
    return eum_samples.sns_envelope(event)


def suppression(flow: test_receipts.Flow, address: str) -> dict[str, Any] | None:
    answer = flow.publish(
        api_event(
            "GET",
            f"/suppressions/{address}",
            resource="/suppressions/{address}",
            path_parameters={"address": address},
        )
    )
    return dict(json.loads(answer["body"])) if answer["statusCode"] == 200 else None


# ---------------------------------------------------------------------------------------- SES


def test_an_ses_permanent_bounce_bounces_a_sent_email_and_suppresses_the_address(flow, outbox):
    sent = flow.send(email_to("gone@example.com"))
    assert flow.status(sent)["channels"]["email"]["status"] == "SENT"

    counts = applied("ses", [ses_event(ses_samples.bounce, sent, "Gone@Example.com")])

    assert (counts.applied, counts.suppressed) == (1, 1)
    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "BOUNCED"
    assert "550 5.1.1 user unknown" in email["last_error"]
    found = suppression(flow, "gone@example.com")
    assert found is not None
    assert (found["channel"], found["source"], found["notification_id"]) == (
        "email",
        "ses bounce Permanent/General",
        sent,
    )

    sent_before = len(outbox)
    again = flow.send(email_to("gone@example.com"))
    assert flow.status(again)["channels"]["email"]["status"] == "SUPPRESSED"
    assert len(outbox) == sent_before


def test_an_ses_delivery_makes_a_sent_email_delivered(flow):
    sent = flow.send(email_to("ana@example.com"))

    counts = applied("ses", [ses_event(ses_samples.delivery, sent, "ana@example.com")])

    assert (counts.applied, counts.suppressed) == (1, 0)
    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "DELIVERED"
    assert email["delivered_at"] == "2016-10-19T23:21:04.133Z"  # SES's time, not ours
    assert suppression(flow, "ana@example.com") is None


def test_an_ses_transient_bounce_keeps_the_reason_and_suppresses_nothing(flow):
    sent = flow.send(email_to("full@example.com"))

    applied(
        "ses", [ses_event(lambda: ses_samples.bounce("Transient", "MailboxFull"), sent, "full@example.com")]
    )

    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "SENT"
    assert email["last_error"].startswith("ses bounce Transient/MailboxFull")
    assert suppression(flow, "full@example.com") is None


def test_the_same_ses_event_delivered_again_is_applied_once(flow):
    sent = flow.send(email_to("ana@example.com"))
    body = ses_event(ses_samples.delivery, sent, "ana@example.com")

    first = applied("ses", [body])
    again = applied("ses", [body, body])

    assert (first.applied, first.duplicates) == (1, 0)
    assert (again.applied, again.duplicates) == (0, 2)


def test_an_ses_event_for_a_message_this_stack_did_not_send_is_unknown_but_its_address_is_dead(flow):
    event = ses_samples.bounce()
    event["mail"] = ses_samples.mail(notification_id=None)

    counts = applied("ses", [ses_samples.sns_envelope(event)])

    assert (counts.unknown, counts.suppressed) == (1, 1)
    assert suppression(flow, "recipient@example.com") is not None


# ---------------------------------------------------------------------------------------- EUM


def test_an_eum_text_delivered_makes_a_sent_sms_delivered(flow):
    sent = flow.send(sms_to("+34600000009"))
    assert flow.status(sent)["channels"]["sms"]["status"] == "SENT"

    counts = applied("eum", [eum_event("TEXT_DELIVERED", sent, "+34600000009")])

    assert counts.applied == 1
    assert flow.status(sent)["channels"]["sms"]["status"] == "DELIVERED"


def test_an_eum_text_invalid_bounces_and_suppresses_the_number(flow):
    sent = flow.send(sms_to("+34600000009"))

    counts = applied("eum", [eum_event("TEXT_INVALID", sent, "+34600000009")])

    assert (counts.applied, counts.suppressed) == (1, 1)
    sms = flow.status(sent)["channels"]["sms"]
    assert sms["status"] == "BOUNCED"
    assert "TEXT_INVALID" in sms["last_error"]
    found = suppression(flow, "+34600000009")
    assert found is not None
    assert (found["channel"], found["source"]) == ("sms", "eum TEXT_INVALID")


def test_an_eum_failure_that_is_not_final_leaves_the_sms_sent_and_a_later_delivery_counts(flow):
    sent = flow.send(sms_to("+34600000009"))
    interim = eum_samples.sms_event(
        "TEXT_CARRIER_UNREACHABLE", final=False, notification_id=sent, destinationPhoneNumber="+34600000009"
    )

    applied("eum", [eum_samples.sns_envelope(interim)])
    assert flow.status(sent)["channels"]["sms"]["status"] == "SENT"
    applied("eum", [eum_event("TEXT_DELIVERED", sent, "+34600000009")])

    assert flow.status(sent)["channels"]["sms"]["status"] == "DELIVERED"
    assert suppression(flow, "+34600000009") is None


# ---------------------------------------------------------------------------------------- samples


def sample_bodies(name: str, ids: dict[str, str]) -> list[str]:
    """The sample batch's bodies, its notification ids replaced by those of notifications sent here."""
    bodies = [record["body"] for record in load_event(name)["Records"]]
    for sample_id, notification_id in ids.items():
        assert any(sample_id in body for body in bodies), sample_id
        bodies = [body.replace(sample_id, notification_id) for body in bodies]
    return bodies


def test_the_sample_ses_events_deliver_one_email_and_bounce_another(flow):
    delivered = flow.send(email_to("ana@example.com"))
    bounced = flow.send(email_to("gone@example.com"))
    bodies = sample_bodies(
        "sqs_fallback_ses_events.json",
        {"4c9d8e7f-6a5b-5c4d-9e3f-2a1b0c9d8e7f": delivered, "5e0b7f1a-2c3d-5e4f-8a9b-0c1d2e3f4a5b": bounced},
    )

    counts = applied("ses", bodies)

    assert (counts.received, counts.applied, counts.suppressed) == (2, 2, 1)
    assert flow.status(delivered)["channels"]["email"]["status"] == "DELIVERED"
    assert flow.status(bounced)["channels"]["email"]["status"] == "BOUNCED"
    assert suppression(flow, "gone@example.com") is not None


def test_the_sample_eum_events_deliver_one_sms_and_bounce_another(flow):
    delivered = flow.send(sms_to("+14255550156"))
    bounced = flow.send(sms_to("+14255550199"))
    bodies = sample_bodies(
        "sqs_fallback_eum_events.json",
        {"6f1a2b3c-4d5e-5f6a-9b7c-8d9e0f1a2b3c": delivered, "7a2b3c4d-5e6f-5a7b-8c9d-9e0f1a2b3c4d": bounced},
    )

    counts = applied("eum", bodies)

    assert (counts.received, counts.applied, counts.suppressed) == (2, 2, 1)  # the interim one: none
    assert flow.status(delivered)["channels"]["sms"]["status"] == "DELIVERED"
    assert flow.status(bounced)["channels"]["sms"]["status"] == "BOUNCED"
    assert suppression(flow, "+14255550199") is not None


@pytest.mark.parametrize("name", ["sqs_fallback_ses_events.json", "sqs_fallback_eum_events.json"])
def test_every_sample_record_body_is_an_sns_envelope_of_an_event_of_ours(name):
    reader = READERS[name.split("_")[2]]
    for record in load_event(name)["Records"]:
        envelope = json.loads(record["body"])
        assert envelope["Type"] == "Notification"
        assert all(r.notification_id for r in reader(record["body"]))


# ----------------------------------------------------------------- through the webhooks function


def test_the_webhooks_function_applies_an_sqs_batch_of_events_and_fails_only_what_is_not_one(flow, outbox):
    from devstack.lambda_events import LambdaContext, sqs_event  # noqa: PLC0415
    from functions.webhooks import app  # noqa: PLC0415 - its import reads the deployed environment

    email = flow.send(email_to("fine@example.com"))
    sms = flow.send(sms_to("+14255550123"))
    bodies = {
        "m-ses": ses_event(ses_samples.delivery, email, "fine@example.com"),
        "m-eum": eum_event("TEXT_DELIVERED", sms, "+14255550123"),
        "m-junk": json.dumps({"Type": "Notification", "Message": json.dumps({"hello": "world"})}),
    }
    batch = sqs_event(
        [{"messageId": message_id, "body": body, "attributes": {}} for message_id, body in bodies.items()]
    )

    answer = app.lambda_handler(batch, LambdaContext(function_name="webhooks"))

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-junk"}]}
    assert flow.status(email)["channels"]["email"]["status"] == "DELIVERED"
    assert flow.status(sms)["channels"]["sms"]["status"] == "DELIVERED"
