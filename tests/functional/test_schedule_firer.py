"""The local stack's schedule firer fires one-time schedules as EventBridge Scheduler does (moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.schedules import ScheduleFirer

GROUP = "notifier-sends"
ROLE = "arn:aws:iam::123456789012:role/notifier-scheduler"


class Aws:
    def __init__(self) -> None:
        self.scheduler = boto3.client("scheduler")
        self.sqs = boto3.client("sqs")
        self.scheduler.create_schedule_group(Name=GROUP)  # moto answers CreateSchedule 500 without
        self.due_url, self.due_arn = self.queue("due")
        self.dlq_url, self.dlq_arn = self.queue("due-dlq")
        self.logged: list[str] = []
        self.firer = ScheduleFirer(self.scheduler, self.sqs, GROUP, log=self.logged.append)

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return url, arn["QueueArn"]

    def schedule(self, name: str, expression: str, *, target: str | None = None, **options: Any) -> None:
        self.scheduler.create_schedule(
            Name=name,
            GroupName=GROUP,
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion=options.pop("ActionAfterCompletion", "DELETE"),
            Target={
                "Arn": target or self.due_arn,
                "RoleArn": ROLE,
                "Input": json.dumps({"kind": "due", "notification_id": name}),
                "DeadLetterConfig": {"Arn": self.dlq_arn},
            },
            **options,
        )

    def names(self) -> list[str]:
        return [s["Name"] for s in self.scheduler.list_schedules(GroupName=GROUP)["Schedules"]]

    def bodies(self, url: str | None = None) -> list[str]:
        answer = self.sqs.receive_message(
            QueueUrl=url or self.due_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return [m["Body"] for m in answer.get("Messages", [])]


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        aws = Aws()
        yield aws
        aws.firer.stop()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_fires_only_when_due_once_and_deletes(aws):
    aws.schedule("send-n-1", "at(2030-01-01T12:00:00)")

    assert aws.firer.fire_due(utc("2030-01-01T11:59:59")) == []
    assert aws.bodies() == []
    assert aws.names() == ["send-n-1"]

    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == ["send-n-1"]
    assert aws.firer.fire_due(utc("2030-01-01T12:00:01")) == []
    assert aws.bodies() == ['{"kind": "due", "notification_id": "send-n-1"}']
    assert aws.bodies() == []
    assert aws.names() == []


def test_context_attributes_are_filled_in(aws):
    aws.scheduler.create_schedule(
        Name="send-ctx",
        GroupName=GROUP,
        ScheduleExpression="at(2030-01-01T12:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": aws.due_arn, "RoleArn": ROLE, "Input": '{"at": "<aws.scheduler.scheduled-time>"}'},
    )
    aws.firer.fire_due(utc("2030-01-01T12:00:30"))
    assert aws.bodies() == ['{"at": "2030-01-01T12:00:00Z"}']


def test_the_time_zone_is_honoured(aws):
    aws.schedule("send-ny", "at(2030-01-01T07:00:00)", ScheduleExpressionTimezone="America/New_York")
    aws.schedule("send-tokyo", "at(2030-01-01T20:00:00)", ScheduleExpressionTimezone="Asia/Tokyo")

    assert aws.firer.fire_due(utc("2030-01-01T10:59:59")) == []
    assert aws.firer.fire_due(utc("2030-01-01T11:00:00")) == ["send-tokyo"]  # 20:00 JST (+09:00)
    assert aws.firer.fire_due(utc("2030-01-01T11:59:59")) == []
    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == ["send-ny"]  # 07:00 EST (-05:00)


def test_a_wall_time_skipped_by_daylight_saving_is_read_with_the_offset_before_it(aws):
    """02:30 does not exist in Madrid on 2026-03-29 (02:00 CET becomes 03:00 CEST): read with the
    offset from before the change, +01:00, it is 01:30 UTC, that is 03:30 CEST."""
    aws.schedule("send-gap", "at(2026-03-29T02:30:00)", ScheduleExpressionTimezone="Europe/Madrid")

    assert aws.firer.fire_due(utc("2026-03-29T01:29:59")) == []
    assert aws.firer.fire_due(utc("2026-03-29T01:30:00")) == ["send-gap"]


def test_a_disabled_schedule_does_not_fire(aws):
    aws.schedule("send-off", "at(2030-01-01T12:00:00)", State="DISABLED")

    assert aws.firer.fire_due(utc("2030-01-02T00:00:00")) == []
    assert aws.bodies() == []
    assert aws.names() == ["send-off"]


def test_a_schedule_kept_after_completion_fires_once(aws):
    aws.schedule("send-kept", "at(2030-01-01T12:00:00)", ActionAfterCompletion="NONE")

    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == ["send-kept"]
    assert aws.firer.fire_due(utc("2030-01-01T12:00:01")) == []
    assert aws.firer.fire_due(utc("2030-01-02T12:00:00")) == []
    assert len(aws.bodies()) == 1
    assert aws.names() == ["send-kept"]


def test_a_target_queue_that_does_not_exist_sends_to_the_dead_letter_queue(aws):
    aws.schedule("send-lost", "at(2030-01-01T12:00:00)", target="arn:aws:sqs:us-east-1:123456789012:gone")

    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == ["send-lost"]

    [message] = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == {"kind": "due", "notification_id": "send-lost"}
    assert message["MessageAttributes"]["TARGET_ARN"]["StringValue"].endswith(":gone")
    assert aws.bodies() == []
    assert aws.names() == []
    assert any("send-lost" in line and "dead-letter queue" in line for line in aws.logged)


def test_a_target_that_is_not_a_queue_sends_to_the_dead_letter_queue(aws):
    aws.schedule("send-sns", "at(2030-01-01T12:00:00)", target="arn:aws:sns:us-east-1:123456789012:topic")

    aws.firer.fire_due(utc("2030-01-01T12:00:00"))

    assert len(aws.bodies(aws.dlq_url)) == 1
    assert any("not an SQS queue ARN" in line for line in aws.logged)


def test_recurring_schedules_are_skipped_with_one_log_line(aws):
    aws.schedule("digest", "rate(5 minutes)")

    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == []
    assert aws.firer.fire_due(utc("2030-01-01T13:00:00")) == []
    assert aws.bodies() == []
    assert aws.names() == ["digest"]
    assert [line for line in aws.logged if "digest" in line] == [
        f"schedule {GROUP}/digest: 'rate(5 minutes)' skipped: only one-time at() schedules fire locally"
    ]


def test_a_schedule_deleted_before_it_is_due_is_forgotten(aws):
    aws.schedule("send-cancelled", "at(2030-01-01T12:00:00)")
    aws.firer.fire_due(utc("2030-01-01T11:00:00"))

    aws.scheduler.delete_schedule(Name="send-cancelled", GroupName=GROUP)

    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == []
    assert aws.bodies() == []


def test_the_thread_fires_a_due_schedule_and_stops_promptly(aws):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    aws.schedule("send-soon", f"at({due:%Y-%m-%dT%H:%M:%S})")
    aws.firer.start()

    deadline = due + timedelta(seconds=2)
    while not aws.firer.fired and datetime.now(UTC) < deadline:
        time.sleep(0.02)
    fired_at = datetime.now(UTC)
    began = time.monotonic()
    aws.firer.stop()

    assert aws.firer.fired == ["send-soon"]
    assert fired_at - due < timedelta(seconds=1)  # polled every 0.25 s
    assert time.monotonic() - began < 1
    assert len(aws.bodies()) == 1
    assert aws.names() == []


def test_a_disabled_schedule_fires_once_enabled(aws):
    aws.schedule("send-later", "at(2030-01-01T12:00:00)", State="DISABLED")
    assert aws.firer.fire_due(utc("2030-01-01T12:00:00")) == []

    schedule = aws.scheduler.get_schedule(Name="send-later", GroupName=GROUP)
    aws.scheduler.update_schedule(
        **{key: schedule[key] for key in ("Name", "GroupName", "ScheduleExpression", "Target")},
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        State="ENABLED",
    )

    assert aws.firer.fire_due(utc("2030-01-01T12:00:01")) == ["send-later"]
    assert len(aws.bodies()) == 1
