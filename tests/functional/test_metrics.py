"""The functions' CloudWatch metrics (EMF documents on stdout), by channel and priority."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from devstack.fakes.fcm import FcmFake
from devstack.lambda_events import api_event, load_event, record_of, sqs_event
from notifier import runtime
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import Envelope, MessageContent
from notifier.models.recipients import Contacts, OptOut, Preferences, PushToken, Recipient
from notifier.platform.metrics import channel_metrics, metrics
from tests.functional.test_bulk_publish import REFUSED, UnreliableSns

DIMENSIONS = ["service", "channel", "priority"]

Emitted = dict[tuple[str, str], dict[str, tuple[str, list[float]]]]


@pytest.fixture(autouse=True)
def _nothing_gathered_before() -> None:
    channel_metrics.clear()


def documents(printed: str) -> list[dict[str, Any]]:
    """Every EMF document printed, as Powertools prints them: one JSON object a line."""
    found = []
    for line in printed.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def by_channel_and_priority(printed: str) -> Emitted:
    """{(channel, priority): {metric: (unit, values)}} from the documents with those dimensions,
    after checking each names exactly {service, channel, priority} in the function's namespace."""
    emitted: Emitted = defaultdict(dict)
    for document in documents(printed):
        [directive] = document["_aws"]["CloudWatchMetrics"]
        if "channel" not in document:
            continue
        assert directive["Dimensions"] == [DIMENSIONS]
        assert directive["Namespace"] == metrics.namespace
        assert document["service"] == "notifier"
        key = (document["channel"], document["priority"])
        for definition in directive["Metrics"]:
            name = definition["Name"]
            values = document[name]
            unit, before = emitted[key].get(name, (definition["Unit"], []))
            assert unit == definition["Unit"]
            emitted[key][name] = (unit, before + (values if isinstance(values, list) else [values]))
    return dict(emitted)


def counts(emitted: Emitted) -> dict[tuple[str, str], dict[str, float]]:
    """The counts only, summed; every one in unit Count."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for key, named in emitted.items():
        for name, (unit, values) in named.items():
            if name == "VendorLatency":
                continue
            assert unit == "Count", name
            found.setdefault(key, {})[name] = sum(values)
    return found


def envelope(priority: str, *, address: str | None = None, recipient: str = "nobody-stored") -> str:
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        recipient_id=recipient,
        event_type="NOTIFICATION",
        priority=Priority(priority),
        channels=[Channel.EMAIL],
        content=MessageContent(body="hello", subject="Hi"),
        addresses={Channel.EMAIL: address} if address else {},
        created_at=datetime.now(UTC),
    ).model_dump_json()


def test_a_batch_with_mixed_outcomes_on_two_priorities_is_counted_by_channel_and_priority(
    deployment, consumers, recipients, capsys
):
    recipients.put(
        Recipient(
            recipient_id="opted-out",
            contacts=Contacts(email="opted-out@example.com"),
            preferences=Preferences(opt_out=OptOut(channels=[Channel.EMAIL])),
        )
    )
    arn = deployment.stack.attrs[("EmailStandardQueue", "Arn")]
    last_receive = int(deployment.functions["EmailFunction"].environment["MAX_RECEIVE_COUNT"])
    batch = sqs_event(
        [
            record_of(envelope("critical", address="a@example.com"), queue_arn=arn),
            record_of(envelope("critical", address="b@example.com"), queue_arn=arn),
            record_of(envelope("critical", address="bounce@simulator.sandbox"), queue_arn=arn),
            record_of(envelope("standard", address="throttle@simulator.sandbox"), queue_arn=arn),
            record_of(envelope("standard", recipient="opted-out"), queue_arn=arn),
            record_of(
                envelope("standard", address="c@example.com"), queue_arn=arn, receive_count=last_receive
            ),
        ]
    )

    answer = consumers["email"](batch)

    assert len(answer["batchItemFailures"]) == 2  # the transient failure, and the dead-lettered one
    emitted = by_channel_and_priority(capsys.readouterr().out)
    assert counts(emitted) == {
        ("email", "critical"): {"NotificationsSent": 2, "NotificationsFailed": 1},
        ("email", "standard"): {
            "TransientFailures": 1,
            "NotificationsSuppressed": 1,
            "NotificationsDeadLettered": 1,
        },
    }
    # One vendor call for each message sent to the sandbox (the suppressed and dead-lettered are not)
    critical_unit, critical_latencies = emitted["email", "critical"]["VendorLatency"]
    standard_unit, standard_latencies = emitted["email", "standard"]["VendorLatency"]
    assert (critical_unit, standard_unit) == ("Milliseconds", "Milliseconds")
    assert len(critical_latencies) == 3
    assert len(standard_latencies) == 1
    assert all(0 <= value < 5000 for value in critical_latencies + standard_latencies)


def test_each_invocation_writes_only_its_own_counts_and_a_redelivery_counts_a_duplicate(
    deployment, consumers, capsys
):
    arn = deployment.stack.attrs[("EmailCriticalQueue", "Arn")]
    record = record_of(envelope("critical", address="a@example.com"), queue_arn=arn)

    consumers["email"](sqs_event([record]))
    first = counts(by_channel_and_priority(capsys.readouterr().out))
    consumers["email"](sqs_event([record]))
    second = counts(by_channel_and_priority(capsys.readouterr().out))

    assert first == {("email", "critical"): {"NotificationsSent": 1}}
    assert second == {("email", "critical"): {"DuplicatesSkipped": 1}}


def test_the_cold_start_is_still_counted_once_with_the_functions_name(
    deployment, consumers, monkeypatch, capsys
):
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    arn = deployment.stack.attrs[("EmailCriticalQueue", "Arn")]

    consumers["email"](sqs_event([record_of(envelope("critical", address="a@example.com"), queue_arn=arn)]))
    consumers["email"](sqs_event([record_of(envelope("critical", address="b@example.com"), queue_arn=arn)]))

    cold = [d for d in documents(capsys.readouterr().out) if "ColdStart" in d]
    assert len(cold) == 1
    [directive] = cold[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["function_name", "service"]]
    assert (cold[0]["function_name"], cold[0]["ColdStart"]) == ("email", [1.0])


def test_with_metrics_disabled_nothing_is_written_or_kept(deployment, consumers, monkeypatch, capsys):
    monkeypatch.setattr(cold_start, "is_cold_start", False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    arn = deployment.stack.attrs[("EmailCriticalQueue", "Arn")]

    consumers["email"](sqs_event([record_of(envelope("critical", address="a@example.com"), queue_arn=arn)]))
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    channel_metrics.flush()  # what a later invocation, with metrics on, would write

    assert documents(capsys.readouterr().out) == []


def test_publishing_counts_each_channel_of_each_notification_it_queued(deployment, publish, capsys):
    UnreliableSns()  # refuses the events of REFUSED, and publishes the others
    single = publish(
        api_event(
            "POST",
            "/api/v1/notifications/publish",
            body={"recipientId": "user-123", "type": "sms", "messageBody": "hi", "priority": "critical"},
        )
    )
    event = publish(
        api_event(
            "POST",
            "/event",
            body={
                "user_id": "user-123",
                "event_type": "MENTION",  # push, email and inapp, critical
                "payload": {"parent_id": "p-1", "parent_type": "post", "timestamp": "2026-01-01T00:00:00Z"},
            },
        )
    )

    def social(user: str, event_type: str, **payload: str) -> dict[str, Any]:
        return {
            "user_id": user,
            "event_type": event_type,
            "payload": {"parent_id": "p-1", "parent_type": "post", "timestamp": "2026-01-01T00:00:00Z"}
            | payload,
        }

    bulk = publish(
        api_event(
            "POST",
            "/events/bulk",
            body={
                "events": [
                    social("user-1", "MESSAGE"),  # push, sms and inapp, critical
                    social("user-2", "COMMENT"),  # push, email and inapp, standard
                    social("user-3", "LIKE", priority="critical"),  # push and inapp, critical by its payload
                    social(REFUSED, "COMMENT"),  # not queued: not counted
                ]
            },
        )
    )

    assert [single["statusCode"], event["statusCode"], bulk["statusCode"]] == [202, 202, 207]
    printed = capsys.readouterr().out
    assert counts(by_channel_and_priority(printed)) == {
        ("sms", "critical"): {"NotificationsPublished": 2},
        ("push", "critical"): {"NotificationsPublished": 3},
        ("email", "critical"): {"NotificationsPublished": 1},
        ("push", "standard"): {"NotificationsPublished": 1},
        ("email", "standard"): {"NotificationsPublished": 1},
        ("inapp", "critical"): {"NotificationsPublished": 3},
        ("inapp", "standard"): {"NotificationsPublished": 1},
    }
    # The events' own counts stay as they were: by service only, with the function's other metrics
    events = defaultdict(float)
    for document in documents(printed):
        [directive] = document["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]:
            if definition["Name"].startswith("Events"):
                assert directive["Dimensions"] == [["service"]]
                assert definition["Unit"] == "Count"
                events[definition["Name"]] += sum(document[definition["Name"]])
    assert dict(events) == {"EventsPublished": 4, "EventsNotPublished": 1}


@pytest.fixture
def fcm(deployment, monkeypatch, user_123) -> Iterator[FcmFake]:
    with FcmFake(project_id="notifier-test") as fake:
        boto3.client("secretsmanager").create_secret(
            Name="notifier/fcm", SecretString=json.dumps(fake.service_account())
        )
        monkeypatch.setenv("FCM_CREDENTIALS", "notifier/fcm")
        monkeypatch.setenv("FCM_MESSAGES_URL", fake.messages_url)
        runtime.reset()
        yield fake
        runtime.reset()


def test_one_fcm_call_is_the_vendor_latency_of_each_of_its_messages(
    consumers, fcm, recipients, user_123, capsys
):
    devices = [PushToken(token=f"fcm-token-device-{i:04d}", platform="android") for i in range(2)]
    recipients.put(user_123.model_copy(update={"contacts": Contacts(push_tokens=devices)}))
    records = []
    for sample, count in (("sqs_push_critical.json", 2), ("sqs_push_standard.json", 1)):
        template = next(r for r in load_event(sample)["Records"] if not json.loads(r["body"])["addresses"])
        for _ in range(count):
            document = json.loads(template["body"]) | {"notification_id": str(uuid.uuid4())}
            records.append({**template, "messageId": str(uuid.uuid4()), "body": json.dumps(document)})

    answer = consumers["push"](sqs_event(records))

    assert answer == {"batchItemFailures": []}
    emitted = by_channel_and_priority(capsys.readouterr().out)
    assert counts(emitted) == {
        ("push", "critical"): {"NotificationsSent": 2},
        ("push", "standard"): {"NotificationsSent": 1},
    }
    _, critical = emitted["push", "critical"]["VendorLatency"]
    _, standard = emitted["push", "standard"]["VendorLatency"]
    assert (len(critical), len(standard)) == (4, 2)  # a value for each message: notifications x devices
    assert len(set(critical + standard)) == 1  # all of them the time of the one send_each call
