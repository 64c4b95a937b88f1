"""The template's schedule group in the local stack: provisioned, and fired by the stack's firer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from devstack.provision import Deployment
from devstack.stack import LocalConfig, LocalStack


def test_provision_creates_the_schedule_group_and_names_the_scheduler_role(deployment: Deployment):
    stack = deployment.stack
    name = deployment.output("ScheduleGroupName")
    group = boto3.client("scheduler", region_name=stack.region).get_schedule_group(Name=name)

    assert name == f"{stack.name}-sends"
    assert deployment.schedule_groups == {"SendSchedules": name}
    assert group["Arn"] == f"arn:aws:scheduler:{stack.region}:{stack.account_id}:schedule-group/{name}"
    environment = deployment.functions["DueFunction"].environment
    assert environment["SCHEDULE_GROUP"] == name
    role = f"arn:aws:iam::{stack.account_id}:role/{stack.name}-SchedulerRole"
    assert environment["SCHEDULER_ROLE_ARN"] == role
    assert environment["DUE_QUEUE_URL"] == deployment.queue_url("DueQueue")


def test_the_local_stacks_firer_fires_the_groups_schedules_into_the_due_queue(deployment: Deployment):
    local = LocalStack(LocalConfig())
    local._start_schedule_firer(deployment)
    firer = local.schedule_firer
    try:
        assert firer is not None
        assert firer.group == deployment.output("ScheduleGroupName")
        environment = deployment.functions["DueFunction"].environment
        body = json.dumps({"kind": "due", "notification_id": "n-1", "send_at": "2026-01-01T00:00:00Z"})
        at = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        # A schedule made as the due function makes one, from what the template tells it.
        boto3.client("scheduler", region_name=deployment.stack.region).create_schedule(
            Name="send-n-1",
            GroupName=environment["SCHEDULE_GROUP"],
            ScheduleExpression=f"at({at})",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": environment["DUE_QUEUE_ARN"],
                "RoleArn": environment["SCHEDULER_ROLE_ARN"],
                "Input": body,
                "DeadLetterConfig": {"Arn": environment["SCHEDULE_DLQ_ARN"]},
            },
        )

        assert firer.fire_due(datetime.now(UTC)) == ["send-n-1"]
    finally:
        local.stop()
    sqs = boto3.client("sqs", region_name=deployment.stack.region)
    [message] = sqs.receive_message(QueueUrl=deployment.queue_url("DueQueue"))["Messages"]
    assert message["Body"] == body
