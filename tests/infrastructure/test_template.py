"""template.yaml keeps the promises the architecture makes."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from devstack.template import REPO_ROOT, Stack, load_template
from notifier.stores import inbox

TEMPLATE = load_template()
STACK = Stack(TEMPLATE)
PARAMETERS = TEMPLATE["Parameters"]


def of_type(kind: str) -> dict[str, dict]:
    return STACK.resources_of_type(kind)


FUNCTIONS = of_type("AWS::Serverless::Function")
QUEUES = of_type("AWS::SQS::Queue")
SQS_EVENTS = [
    (name, event_name, event["Properties"])
    for name, fn in FUNCTIONS.items()
    for event_name, event in fn["Properties"].get("Events", {}).items()
    if event["Type"] == "SQS"
]
# The consumers' queues, which the topic fills; the due queue (scheduled sends) is the due function's.
CONSUMERS = ("EmailFunction", "SmsFunction", "PushFunction", "InappFunction")
CONSUMER_EVENTS = [(name, event_name, props) for name, event_name, props in SQS_EVENTS if name in CONSUMERS]
SOURCE_QUEUES = {props["Queue"]["Fn::GetAtt"][0] for _, _, props in CONSUMER_EVENTS}


def test_every_function_runs_python_3_13():
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.13"
    assert all("Runtime" not in fn["Properties"] for fn in FUNCTIONS.values())


def test_eight_source_queues_each_have_their_own_dead_letter_queue():
    # Every SQS event is a consumer's, but the due function's one on the due queue (see below), and
    # the webhooks function's on SES's and End User Messaging's receipts.
    assert {(name, event) for name, event, _ in SQS_EVENTS if name not in CONSUMERS} == {
        ("DueFunction", "Due"),
        ("WebhooksFunction", "FallbackReceipts"),
    }
    assert len(SOURCE_QUEUES) == 8
    dlqs = [
        QUEUES[q]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in SOURCE_QUEUES
    ]
    assert len(set(dlqs)) == 8
    assert set(dlqs).isdisjoint(SOURCE_QUEUES)
    for queue in SOURCE_QUEUES:
        assert QUEUES[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    # Five delivery attempts; the sixth receive only marks the notification DEAD_LETTERED.
    assert PARAMETERS["MaxReceiveCount"]["Default"] == 6
    assert PARAMETERS["MaxReceiveCount"]["MinValue"] == 2


def role_statements(function: str) -> list[dict]:
    """The statements of the function's own role (conditional ones as written for their condition)."""
    role = FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = of_type("AWS::IAM::Role")[role]["Properties"]["Policies"]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in policy["PolicyDocument"]["Statement"]]


def test_consumers_back_off_through_their_own_queues_only():
    for name in ("EmailFunction", "SmsFunction", "PushFunction", "InappFunction"):
        own = {q for n, _, props in SQS_EVENTS if n == name for q in [props["Queue"]["Fn::GetAtt"][0]]}
        [statement] = [s for s in role_statements(name) if s.get("Sid") == "BackOffFailedRecords"]
        assert statement["Action"] == "sqs:ChangeMessageVisibility"
        assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == own


def test_only_the_consumers_quiet_hours_hold_back_may_put_records_back_on_their_standard_queue():
    deferring = {}
    for name in ("EmailFunction", "SmsFunction", "PushFunction", "InappFunction"):
        sends = [s for s in role_statements(name) if "sqs:SendMessage" in str(s.get("Action"))]
        deferring[name] = [s["Resource"]["Fn::GetAtt"][0] for s in sends]
    # In-app notifications are never deferred (an inbox item makes no sound), so never sent back.
    assert deferring == {
        "EmailFunction": ["EmailStandardQueue"],
        "SmsFunction": ["SmsStandardQueue"],
        "PushFunction": ["PushStandardQueue"],
        "InappFunction": [],
    }


def test_the_backoff_parameters_reach_every_consumer():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["RETRY_BASE_SECONDS"] == {"Ref": "RetryBaseSeconds"}
    assert variables["RETRY_MAX_SECONDS"] == {"Ref": "RetryMaxSeconds"}
    assert variables["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}
    assert PARAMETERS["RetryMaxSeconds"]["MaxValue"] == 43200  # SQS's longest visibility timeout


def test_every_queue_is_encrypted_by_sqs():
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in QUEUES.values())


def test_visibility_timeout_is_at_least_six_function_timeouts_plus_the_batching_window():
    globals_timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    for name, _, props in CONSUMER_EVENTS:
        timeout = FUNCTIONS[name]["Properties"].get("Timeout", globals_timeout)
        assert timeout == {"Ref": "ConsumerTimeoutSeconds"}, name
        timeout = PARAMETERS["ConsumerTimeoutSeconds"]["Default"]
        window = props["MaximumBatchingWindowInSeconds"]
        largest_window = PARAMETERS[window["Ref"]]["MaxValue"] if isinstance(window, dict) else window
        visibility = QUEUES[props["Queue"]["Fn::GetAtt"][0]]["Properties"]["VisibilityTimeout"]
        assert visibility == {"Ref": "QueueVisibilityTimeoutSeconds"}
        assert PARAMETERS["QueueVisibilityTimeoutSeconds"]["Default"] >= 6 * timeout + largest_window, name


def test_every_sqs_event_reports_batch_item_failures():
    assert SQS_EVENTS
    assert all(props["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for _, _, props in SQS_EVENTS)


def test_critical_sources_favour_latency_and_standard_sources_favour_cost():
    def default(value):
        return PARAMETERS[value["Ref"]]["Default"] if isinstance(value, dict) else value

    for _, event_name, props in CONSUMER_EVENTS:
        queue = props["Queue"]["Fn::GetAtt"][0]
        assert ("Critical" in queue) == (event_name == "Critical")
    critical = next(p for _, e, p in CONSUMER_EVENTS if e == "Critical")
    standard = next(p for _, e, p in CONSUMER_EVENTS if e == "Standard")
    assert default(critical["MaximumBatchingWindowInSeconds"]) == 0
    assert default(standard["MaximumBatchingWindowInSeconds"]) > 0
    assert default(critical["BatchSize"]) < default(standard["BatchSize"])
    stack = Stack(TEMPLATE)
    critical_cap = stack.resolve(critical["ScalingConfig"])["MaximumConcurrency"]
    standard_cap = stack.resolve(standard["ScalingConfig"])["MaximumConcurrency"]
    assert int(critical_cap) > int(standard_cap) >= 2


@pytest.mark.parametrize("priority", ["Critical", "Standard"])
def test_a_maximum_concurrency_of_0_leaves_the_queues_source_without_a_cap(priority):
    """0 leaves ScalingConfig out (SQS takes 2 to 1,000, no 0): Lambda's scaling and the account's
    limit decide. 1 is refused before anything is made."""
    uncapped = Stack(TEMPLATE, overrides={f"{priority}MaxConcurrency": "0"})
    capped = Stack(TEMPLATE, overrides={f"{priority}MaxConcurrency": "7"})
    for _, event_name, props in CONSUMER_EVENTS:
        if event_name == priority:
            assert uncapped.resolve({"ScalingConfig": props["ScalingConfig"]}) == {}
            assert capped.resolve(props["ScalingConfig"]) == {"MaximumConcurrency": "7"}
    [assertion] = [
        a
        for a in TEMPLATE["Rules"]["MaximumConcurrencyIsZeroOrAtLeastTwo"]["Assertions"]
        if a["Assert"]["Fn::Not"][0]["Fn::Equals"][0] == {"Ref": f"{priority}MaxConcurrency"}
    ]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": f"{priority}MaxConcurrency"}, 1]}]}


def test_each_subscription_delivers_raw_and_filters_on_channel_and_priority():
    subscriptions = {
        k: s
        for k, s in of_type("AWS::SNS::Subscription").items()
        if s["Properties"]["TopicArn"] == {"Ref": "NotificationTopic"}
        and s["Properties"]["Protocol"] == "sqs"
    }
    assert {s["Properties"]["Endpoint"]["Fn::GetAtt"][0] for s in subscriptions.values()} == SOURCE_QUEUES
    for sub in subscriptions.values():
        props = sub["Properties"]
        assert props["RawMessageDelivery"] is True
        assert props["FilterPolicyScope"] == "MessageAttributes"
        assert set(props["FilterPolicy"]) == {"channel", "priority"}


def test_only_the_topic_may_send_to_the_queues():
    policy = of_type("AWS::SQS::QueuePolicy")["QueuesPolicy"]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "NotificationTopic"}}}
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == SOURCE_QUEUES


def test_the_api_requires_a_key_by_default_and_throttles_by_parameters():
    [api] = of_type("AWS::Serverless::Api").values()
    assert PARAMETERS["ApiAuthorization"]["Default"] == "API_KEY"
    assert api["Properties"]["Auth"]["UsagePlan"]["Throttle"] == {
        "RateLimit": {"Ref": "ApiRateLimit"},
        "BurstLimit": {"Ref": "ApiBurstLimit"},
    }
    [stage_throttle] = api["Properties"]["MethodSettings"]
    assert stage_throttle["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert stage_throttle["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}


def test_the_api_has_the_contract_recipient_suppression_and_receipt_routes_and_no_catch_all():
    routes = sorted(
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for fn in FUNCTIONS.values()
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    )
    assert routes == [
        ("delete", "/event/{event_id}"),  # cancels a scheduled notification
        ("delete", "/recipients/{recipientId}"),
        ("delete", "/suppressions/{address}"),
        ("get", "/docs"),
        ("get", "/event/{event_id}"),
        ("get", "/openapi.json"),
        ("get", "/recipients/{recipientId}"),
        ("get", "/recipients/{recipientId}/inbox"),
        ("get", "/suppressions"),
        ("get", "/suppressions/{address}"),
        ("post", "/api/v1/notifications/publish"),
        ("post", "/event"),
        ("post", "/event/{event_id}/receipts"),
        ("post", "/events/bulk"),
        ("post", "/recipients/{recipientId}/inbox/mark-all/{mark}"),
        ("post", "/recipients/{recipientId}/inbox/token"),
        ("post", "/recipients/{recipientId}/inbox/{notificationId}/{mark}"),
        ("post", "/webhooks/sendgrid"),
        ("post", "/webhooks/twilio"),
        ("put", "/recipients/{recipientId}"),
    ]
    assert not any("proxy+" in path or path == "/{proxy}" for _, path in routes)


def test_the_vendors_receipts_reach_the_webhooks_function_and_the_apps_receipts_the_publish_function():
    def routes(function: str) -> set[tuple[str, str]]:
        events = FUNCTIONS[function]["Properties"]["Events"].values()
        return {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "Api"}

    assert routes("WebhooksFunction") == {("post", "/webhooks/sendgrid"), ("post", "/webhooks/twilio")}
    assert ("post", "/event/{event_id}/receipts") in routes("PublishFunction")
    assert ("delete", "/event/{event_id}") in routes("PublishFunction")


def test_the_status_table_expires_items():
    table = of_type("AWS::DynamoDB::Table")["StatusTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


# ------------------------------------------------------------------ scheduled sends

SCHEDULE_PATH = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${AWS::StackName}-sends/*"
)


def test_scheduled_sends_wait_in_the_pending_table_and_on_the_due_queue():
    table = of_type("AWS::DynamoDB::Table")["PendingTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "notification_id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "notification_id", "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    due = QUEUES["DueQueue"]["Properties"]
    assert due["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DueDLQ", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    # Standard queues: a FIFO queue refuses a per-message delay, and Scheduler's DLQ must be standard.
    for name in ("DueQueue", "DueDLQ", "ScheduleDLQ"):
        assert "FifoQueue" not in QUEUES[name]["Properties"], name
    assert "RedrivePolicy" not in QUEUES["ScheduleDLQ"]["Properties"]
    publish = FUNCTIONS["PublishFunction"]["Properties"]["Environment"]["Variables"]
    assert publish["PENDING_TABLE"] == {"Ref": "PendingTable"}
    assert publish["DUE_QUEUE_URL"] == {"Ref": "DueQueue"}
    assert publish["MAX_SCHEDULE_DAYS"] == {"Ref": "MaxScheduleDays"}
    spec = PARAMETERS["MaxScheduleDays"]
    assert (spec["Type"], spec["Default"], spec["MinValue"], spec["MaxValue"]) == ("Number", 30, 1, 365)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_digest_windows_are_gathered_by_the_publish_function_and_sent_by_the_due_function():
    table = of_type("AWS::DynamoDB::Table")["DigestsTable"]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "DataKey"}
    for function in ("PublishFunction", "DueFunction"):
        variables = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]
        assert variables["DIGESTS_TABLE"] == {"Ref": "DigestsTable"}, function
        assert variables["DIGEST_WINDOW_SECONDS"] == {"Ref": "DigestWindowSeconds"}, function
        assert variables["DIGEST_MAX_EVENTS"] == {"Ref": "DigestMaxEvents"}, function
    on_table = {
        function: sorted(
            action
            for statement in role_statements(function)
            if statement.get("Resource") == {"Fn::GetAtt": ["DigestsTable", "Arn"]}
            for action in (
                [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            )
        )
        for function in FUNCTIONS
    }
    # Open is a transaction of an Update (the arbiter) and a Put (the window); no Delete, no Scan.
    assert {f: a for f, a in on_table.items() if a} == {
        "PublishFunction": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        "DueFunction": ["dynamodb:UpdateItem"],
    }
    window, most = PARAMETERS["DigestWindowSeconds"], PARAMETERS["DigestMaxEvents"]
    assert (window["Default"], window["MinValue"], window["MaxValue"]) == (0, 0, 86400)
    assert (most["Default"], most["MinValue"], most["MaxValue"]) == (100, 2, 1000)


def test_a_flush_lets_go_of_its_window_before_sqs_hands_its_message_out_again():
    """A crashed flush's window is taken again only once its lease has run out: the lease covers an
    invocation (the due function's Timeout), and SQS redelivers after the visibility timeout."""
    from notifier.scheduling.digests import FLUSH_LEASE_SECONDS  # noqa: PLC0415

    timeout = FUNCTIONS["DueFunction"]["Properties"]["Timeout"]
    assert timeout <= FLUSH_LEASE_SECONDS < QUEUES["DueQueue"]["Properties"]["VisibilityTimeout"]


def test_the_due_function_releases_from_the_due_queue_and_knows_what_a_schedule_is_made_of():
    props = FUNCTIONS["DueFunction"]["Properties"]
    assert (props["CodeUri"], props["Handler"], props["Timeout"]) == (
        "functions/due/",
        "app.lambda_handler",
        30,
    )
    [(event_name, event)] = props["Events"].items()
    assert (event_name, event["Type"]) == ("Due", "SQS")
    assert event["Properties"] == {
        "Queue": {"Fn::GetAtt": ["DueQueue", "Arn"]},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    # A record is hidden for longer than an invocation may run (SQS refuses the mapping otherwise).
    assert QUEUES["DueQueue"]["Properties"]["VisibilityTimeout"] >= props["Timeout"]
    assert props["Environment"]["Variables"] == {
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        "PENDING_TABLE": {"Ref": "PendingTable"},
        "DUE_QUEUE_URL": {"Ref": "DueQueue"},
        "SCHEDULE_GROUP": {"Ref": "SendSchedules"},
        "DUE_QUEUE_ARN": {"Fn::GetAtt": ["DueQueue", "Arn"]},
        "SCHEDULER_ROLE_ARN": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
        "SCHEDULE_DLQ_ARN": {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]},
        # Digest windows' flushes come on the due queue too.
        "DIGESTS_TABLE": {"Ref": "DigestsTable"},
        "DIGEST_WINDOW_SECONDS": {"Ref": "DigestWindowSeconds"},
        "DIGEST_MAX_EVENTS": {"Ref": "DigestMaxEvents"},
    }
    [group] = of_type("AWS::Scheduler::ScheduleGroup").items()
    assert group == (
        "SendSchedules",
        {
            "Type": "AWS::Scheduler::ScheduleGroup",
            "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-sends"}},
        },
    )
    # The schedules are made at run time: none in the template, nor SAM's ScheduleV2 (its role has no
    # SourceAccount/SourceArn condition and its DLQ is unencrypted).
    assert not of_type("AWS::Scheduler::Schedule")
    assert all(
        e["Type"] not in ("Schedule", "ScheduleV2")
        for fn in FUNCTIONS.values()
        for e in fn["Properties"].get("Events", {}).values()
    )


def test_the_scheduler_role_is_assumed_only_by_this_groups_schedules_and_only_sends_to_the_due_queues():
    role = of_type("AWS::IAM::Role")["SchedulerRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                    "ArnLike": {"aws:SourceArn": {"Fn::Sub": SCHEDULE_PATH}},
                },
            }
        ],
    }
    # the group's name, as the ARN of its schedules has it
    assert (
        SCHEDULE_PATH.split("/")[1]
        == of_type("AWS::Scheduler::ScheduleGroup")["SendSchedules"]["Properties"]["Name"]["Fn::Sub"]
    )
    assert "ManagedPolicyArns" not in role
    [policy] = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "SendDueNotifications",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": [{"Fn::GetAtt": ["DueQueue", "Arn"]}, {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]}],
        }
    ]


def test_only_the_due_function_schedules_and_passes_the_scheduler_role_to_scheduler_only():
    grants = {
        name: [s for s in every_grant(name) if {"scheduler", "iam"} & {a.split(":")[0] for a in _actions(s)}]
        for name in FUNCTIONS
    }
    assert {name for name, found in grants.items() if found} == {"DueFunction"}
    assert sorted(grants["DueFunction"], key=lambda s: s["Sid"]) == [
        {
            "Sid": "PassTheSchedulerRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        },
        {
            "Sid": "ScheduleLaterSends",
            "Effect": "Allow",
            "Action": "scheduler:CreateSchedule",
            "Resource": {"Fn::Sub": SCHEDULE_PATH},
        },
    ]


def test_the_due_and_publish_functions_reach_the_pending_table_and_the_due_queue_as_they_need():
    def on(function: str, resource: str) -> set[str]:
        return {
            a for s in every_grant(function) if resource in json.dumps(s["Resource"]) for a in _actions(s)
        }

    assert on("PublishFunction", "PendingTable") == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    }
    assert on("DueFunction", "PendingTable") == {"dynamodb:GetItem", "dynamodb:DeleteItem"}
    assert on("PublishFunction", "DueQueue") == {"sqs:SendMessage"}
    assert on("DueFunction", "DueQueue") == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
    }
    assert on("DueFunction", "StatusTable") == {"dynamodb:UpdateItem", "dynamodb:Query"}
    knowing = {
        n for n, fn in FUNCTIONS.items() if "PendingTable" in json.dumps(fn["Properties"]["Environment"])
    }
    assert knowing == {"PublishFunction", "DueFunction"}


def test_the_suppression_list_is_kept_by_address_and_never_expires():
    table = of_type("AWS::DynamoDB::Table")["SuppressionsTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"  # as the recipients
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "address", "KeyType": "HASH"}]
    assert "TimeToLiveSpecification" not in table["Properties"]
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SUPPRESSIONS_TABLE"] == {"Ref": "SuppressionsTable"}


INBOX_INDEXES = ("newest", "active", "archived", "unread", "unseen")


def test_the_inbox_table_has_the_indexes_the_inbox_store_reads_and_expires_items():
    table = of_type("AWS::DynamoDB::Table")["InboxTable"]
    properties = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"  # as the recipients
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "recipient_id", "KeyType": "HASH"},
        {"AttributeName": "notification_id", "KeyType": "RANGE"},
    ]
    indexes = {index["IndexName"]: index for index in properties["LocalSecondaryIndexes"]}
    assert tuple(indexes) == INBOX_INDEXES == inbox.INDEXES
    for name, index in indexes.items():
        assert index["KeySchema"] == [
            {"AttributeName": "recipient_id", "KeyType": "HASH"},
            {"AttributeName": f"{name}_key", "KeyType": "RANGE"},
        ], name
        assert index["Projection"] == {"ProjectionType": "ALL"}, name
    assert "GlobalSecondaryIndexes" not in properties
    keys = ["recipient_id", "notification_id", *(f"{name}_key" for name in INBOX_INDEXES)]
    assert properties["AttributeDefinitions"] == [{"AttributeName": k, "AttributeType": "S"} for k in keys]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert (PARAMETERS["InboxTtlDays"]["Default"], PARAMETERS["InboxTtlDays"]["MinValue"]) == (90, 1)
    assert PARAMETERS["InboxTtlDays"]["MaxValue"] == 3650


def test_only_the_inapp_function_writes_new_inbox_items_and_only_the_inbox_functions_know_the_table():
    assert "INBOX_TABLE" not in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    knowing = {
        name
        for name, fn in FUNCTIONS.items()
        if "INBOX_TABLE" in fn["Properties"]["Environment"]["Variables"]
    }
    assert knowing == {"InappFunction", "PublishFunction", "SocketFunction"}
    assert FUNCTIONS["InappFunction"]["Properties"]["Environment"]["Variables"] == {
        "RECIPIENTS_TABLE": {"Ref": "RecipientsTable"},
        "INBOX_TABLE": {"Ref": "InboxTable"},
        "INBOX_TTL_DAYS": {"Ref": "InboxTtlDays"},
        "CONNECTIONS_TABLE": {"Ref": "ConnectionsTable"},
        "WEBSOCKET_MANAGEMENT_URL": FUNCTIONS["PublishFunction"]["Properties"]["Environment"]["Variables"][
            "WEBSOCKET_MANAGEMENT_URL"
        ],
    }
    grants = {
        name: [a for s in every_grant(name) if _on_the_inbox(s) for a in _actions(s)] for name in FUNCTIONS
    }
    # Marks update items (the publish and socket functions); only the consumer puts new ones.
    assert {name: actions for name, actions in grants.items() if actions} == {
        "InappFunction": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"],
        "PublishFunction": ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
        "SocketFunction": ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
    }


def every_grant(function: str) -> list[dict[str, Any]]:
    """The statements of the function's own role, both branches of a conditional one."""
    role = FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = of_type("AWS::IAM::Role")[role]["Properties"]["Policies"]
    branches = [s["Fn::If"][1:] if "Fn::If" in s else [s] for s in policy["PolicyDocument"]["Statement"]]
    return [b for branch in branches for b in branch if b != {"Ref": "AWS::NoValue"}]


def _on_the_inbox(statement: dict[str, Any]) -> bool:
    return "InboxTable" in json.dumps(statement["Resource"])


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_the_webhooks_function_de_duplicates_receipts_in_the_idempotency_table():
    variables = FUNCTIONS["WebhooksFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    table = of_type("AWS::DynamoDB::Table")["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    [statement] = [
        s
        for s in role_statements("WebhooksFunction")
        if s.get("Resource") == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    ]
    assert statement["Action"] == ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]


def test_outputs_name_every_queue_dlq_table_function_the_topic_and_the_api():
    outputs = TEMPLATE["Outputs"]
    referenced = {o["Value"].get("Ref") for o in outputs.values() if isinstance(o["Value"], dict)}
    assert set(QUEUES) <= referenced
    assert set(of_type("AWS::DynamoDB::Table")) <= referenced
    assert set(FUNCTIONS) <= referenced
    assert "NotificationTopic" in referenced
    assert "ApiUrl" in outputs


@pytest.mark.parametrize(
    ("output", "route"), [("SendGridWebhookUrl", "sendgrid"), ("TwilioStatusCallbackUrl", "twilio")]
)
def test_outputs_give_each_vendor_its_webhook_url_at_the_public_url_or_the_stage(output, route):
    condition, public, stage = TEMPLATE["Outputs"][output]["Value"]["Fn::If"]
    assert condition == "HasPublicApiUrl"
    assert public == {"Fn::Sub": f"${{PublicApiUrl}}/webhooks/{route}"}
    assert stage == {"Fn::Sub": TEMPLATE["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"] + f"/webhooks/{route}"}
    for url in ("", "https://notify.example.com/v1"):
        resolved = Stack(
            TEMPLATE, overrides={"PublicApiUrl": url}, refs={"NotificationApi": "abc123"}
        ).resolve(TEMPLATE["Outputs"][output]["Value"])
        base = url or "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
        assert resolved == f"{base}/webhooks/{route}"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function_has_its_handler_and_its_own_requirements(name):
    props = FUNCTIONS[name]["Properties"]
    code = REPO_ROOT / props["CodeUri"]
    module, function = props["Handler"].split(".")
    handler_module = importlib.import_module(".".join([*code.relative_to(REPO_ROOT).parts, module]))
    assert callable(getattr(handler_module, function))
    assert (code / "requirements.txt").is_file()


def test_the_common_layer_is_built_by_sam_from_its_requirements():
    [layer] = of_type("AWS::Serverless::LayerVersion").values()
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    content = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file()
    assert (content / "notifier" / "__init__.py").is_file()
    assert Path(content / "notifier" / "api" / "routing_rules.json").is_file()


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {
        name.lower().replace("_", "-"): version
        for name, version in (line.split("==") for line in lines if "==" in line)
    }


@pytest.mark.parametrize(
    "requirements",
    [
        "layers/common/requirements.txt",
        *(f"functions/{n}/requirements.txt" for n in ("email", "sms", "push", "inapp", "webhooks", "due")),
    ],
)
def test_what_ships_is_the_versions_the_tests_run(requirements):
    shipped = pins(REPO_ROOT / requirements)
    dev = pins(REPO_ROOT / "requirements/dev.txt")
    assert {name: dev.get(name) for name in shipped} == shipped


@pytest.mark.parametrize(
    ("function", "sdk", "others"),
    [
        ("email", "sendgrid", {"twilio", "firebase-admin"}),
        ("sms", "twilio", {"sendgrid", "firebase-admin"}),
        ("push", "firebase-admin", {"sendgrid", "twilio"}),
        ("inapp", None, {"sendgrid", "twilio", "firebase-admin"}),  # no vendor: the inbox is a table
        ("publish", None, {"sendgrid", "twilio", "firebase-admin"}),
        ("webhooks", None, {"sendgrid", "twilio", "firebase-admin"}),
        ("due", None, {"sendgrid", "twilio", "firebase-admin"}),  # SNS, SQS, DynamoDB, Scheduler: boto3
    ],
)
def test_each_function_ships_its_own_vendor_sdk_and_no_other(function, sdk, others):
    shipped = pins(REPO_ROOT / "functions" / function / "requirements.txt")
    assert sdk is None or sdk in shipped
    assert not others & set(shipped)


def test_the_webhooks_function_ships_only_cryptography_to_verify_signatures():
    shipped = pins(REPO_ROOT / "functions" / "webhooks" / "requirements.txt")
    assert "cryptography" in shipped
    assert set(shipped) <= {"cryptography", "cffi", "pycparser"}  # cryptography and what it needs


def test_vendor_credentials_are_readable_only_by_the_functions_using_them_and_only_when_named():
    grants: dict[str, set[tuple[str, str]]] = {}
    for name, fn in FUNCTIONS.items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        [policy] = of_type("AWS::IAM::Role")[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]:
            allow = statement["Fn::If"][1] if "Fn::If" in statement else statement
            if not re.fullmatch(r"Read\w+Credentials", allow.get("Sid", "")):
                assert "ssm:GetParameter" not in allow.get("Action", []), name
                continue
            condition, _, otherwise = statement["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            assert allow["Action"] == ["secretsmanager:GetSecretValue", "ssm:GetParameter"]
            assert allow["Resource"]["Fn::If"][0] == "CredentialsInSsm"
            resources = allow["Resource"]["Fn::If"][1:]
            assert all("*" not in r["Fn::Sub"] for r in resources)
            [parameter] = {r["Fn::Sub"].split("${")[-1].split("}")[0] for r in resources}
            assert allow["Sid"] == f"Read{parameter}"
            grants.setdefault(name, set()).add((condition, parameter))
    assert grants == {
        "EmailFunction": {("HasSendGridCredentials", "SendGridCredentials")},
        "SmsFunction": {("HasTwilioCredentials", "TwilioCredentials")},
        "PushFunction": {("HasFcmCredentials", "FcmCredentials")},
        # to verify the vendors' signatures: SendGrid's verification key, Twilio's auth token
        "WebhooksFunction": {
            ("HasSendGridCredentials", "SendGridCredentials"),
            ("HasTwilioCredentials", "TwilioCredentials"),
        },
    }


# The consumers whose deliveries are receipted, by the vendor or by the sandbox in its stead (in-app
# is neither: storing the item is the delivery).
RECEIPTED_CONSUMERS = ("EmailFunction", "SmsFunction", "PushFunction")
EXECUTE_API_URL = "https://${NotificationApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"


@pytest.mark.parametrize("function", RECEIPTED_CONSUMERS)
def test_the_public_api_url_reaches_each_consumer_or_else_the_stages_own(function):
    variables = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]
    assert variables["PUBLIC_API_URL"] == {
        "Fn::If": ["HasPublicApiUrl", {"Ref": "PublicApiUrl"}, {"Fn::Sub": EXECUTE_API_URL}]
    }
    assert variables["SANDBOX_RECEIPTS_SECRET"] == {"Ref": "SandboxReceiptsSecret"}
    assert variables["SANDBOX_RECEIPT_DELAY_MS"] == {"Ref": "SandboxReceiptDelayMs"}
    assert TEMPLATE["Conditions"]["HasPublicApiUrl"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PublicApiUrl"}, ""]}]
    }
    for url in ("", "http://127.0.0.1:3000"):
        stack = Stack(TEMPLATE, overrides={"PublicApiUrl": url}, refs={"NotificationApi": "abc123"})
        expected = url or "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
        assert stack.resolve(variables["PUBLIC_API_URL"]) == expected


def test_the_webhooks_function_gets_the_public_api_url_as_given_not_the_apis_own():
    """The API integrates the webhooks function: its execute-api URL would be a circular dependency."""
    variables = FUNCTIONS["WebhooksFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PUBLIC_API_URL"] == {"Ref": "PublicApiUrl"}
    assert "NotificationApi" not in json.dumps(FUNCTIONS["WebhooksFunction"]["Properties"]["Environment"])
    assert variables["WEBHOOK_MAX_AGE_SECONDS"] == {"Ref": "WebhookMaxAgeSeconds"}
    assert variables["MAX_REQUEST_BYTES"] == {"Ref": "MaxRequestBytes"}
    assert variables["SENDGRID_CREDENTIALS"] == {"Ref": "SendGridCredentials"}
    assert variables["TWILIO_CREDENTIALS"] == {"Ref": "TwilioCredentials"}


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("", True),
        ("https://notify.example.com", True),
        ("https://api.example.com/notifier/v1", True),
        ("http://127.0.0.1:3000", True),  # the local stack's
        ("https://notify.example.com/", False),  # a trailing slash would double the routes' own
        ("notify.example.com", False),
        ("https://notify.example.com/webhooks?x=1", False),
    ],
)
def test_the_public_api_url_is_a_base_url_without_a_trailing_slash(url, allowed):
    assert bool(re.fullmatch(PARAMETERS["PublicApiUrl"]["AllowedPattern"], url)) == allowed


def test_the_receipt_parameters_have_their_bounds():
    bounds = {
        name: (PARAMETERS[name]["Default"], PARAMETERS[name]["MinValue"], PARAMETERS[name]["MaxValue"])
        for name in ("WebhookMaxAgeSeconds", "SandboxReceiptDelayMs", "BounceRateAlarmPercent")
    }
    assert bounds == {
        "WebhookMaxAgeSeconds": (300, 30, 86400),
        "SandboxReceiptDelayMs": (1000, 0, 600000),
        "BounceRateAlarmPercent": (5, 0, 100),
    }
    groups = {
        name: group["Label"]["default"]
        for group in TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        for name in group["Parameters"]
    }
    assert set(groups) == set(PARAMETERS)  # every Parameter is in a group of the console's form
    assert groups["PublicApiUrl"] == groups["MaxScheduleDays"] == "API"
    assert groups["BounceRateAlarmPercent"] == "Alarms"
    assert groups["InboxTtlDays"] == groups["StatusTtlDays"] == "Operations"


# ------------------------------------------------------------------ the documentation routes


def test_api_docs_is_a_parameter_of_the_api_and_reaches_the_publish_function():
    assert PARAMETERS["ApiDocs"]["AllowedValues"] == ["Enabled", "Disabled"]
    assert PARAMETERS["ApiDocs"]["Default"] == "Enabled"
    assert TEMPLATE["Conditions"]["ApiDocsOn"] == {"Fn::Equals": [{"Ref": "ApiDocs"}, "Enabled"]}
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    [api_group] = [g for g in groups if g["Label"]["default"] == "API"]
    assert "ApiDocs" in api_group["Parameters"]
    variables = FUNCTIONS["PublishFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["API_DOCS"] == {"Ref": "ApiDocs"}


# ------------------------------------------------------------------ API Gateway's own answers

GATEWAY_RESPONSES: dict[str, Any] = of_type("AWS::Serverless::Api")["NotificationApi"]["Properties"][
    "DefinitionBody"
]["x-amazon-apigateway-gateway-responses"]
MESSAGE_STRING = "$context.error.messageString"  # API Gateway gives it as a quoted JSON string
# type: (statusCode, error, retryable, the field it names if any)
EXPECTED_ANSWERS = {
    "MISSING_AUTHENTICATION_TOKEN": ("403", "missing_authentication_token", False, None),
    "INVALID_API_KEY": ("403", "forbidden", False, "x-api-key"),
    "ACCESS_DENIED": ("403", "forbidden", False, None),
    "THROTTLED": ("429", "too_many_requests", True, None),
    "QUOTA_EXCEEDED": ("429", "too_many_requests", True, None),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", False, "body"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type", False, "Content-Type"),
    "INTEGRATION_TIMEOUT": ("504", "timeout", True, None),
    "DEFAULT_4XX": (None, "bad_request", False, None),  # keeps the status API Gateway chose
    "DEFAULT_5XX": (None, "unavailable", True, None),
}


def _branches(node: Any) -> list[Any]:
    """Every value `node` can take, through its Fn::If."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        return [value for branch in node["Fn::If"][1:] for value in _branches(branch)]
    return [node]


def _answers(response_type: str) -> list[dict[str, Any]]:
    """The bodies a gateway response can answer, with $context.error.messageString as API Gateway
    (and the local stack) substitute it: a JSON string."""
    template = GATEWAY_RESPONSES[response_type]["responseTemplates"]["application/json"]
    message = json.dumps('API Gateway\'s "own" message')
    return [json.loads(text.replace(MESSAGE_STRING, message)) for text in _branches(template)]


def test_the_gateway_responses_are_one_unconditional_map_with_every_type():
    assert isinstance(GATEWAY_RESPONSES, dict)
    assert "Fn::If" not in GATEWAY_RESPONSES
    assert set(EXPECTED_ANSWERS) <= set(GATEWAY_RESPONSES)


@pytest.mark.parametrize("response_type", sorted(GATEWAY_RESPONSES))
def test_every_gateway_response_answers_in_the_api_error_shape(response_type):
    response = GATEWAY_RESPONSES[response_type]
    assert set(response["responseTemplates"]) == {"application/json"}
    for text in _branches(response["responseTemplates"]["application/json"]):
        assert isinstance(text, str)
        # VTL: no variable but the message string, and no directive (# starts one).
        assert set(re.findall(r"\$[!{]?[A-Za-z][\w.]*", text)) <= {MESSAGE_STRING}, text
        assert "#" not in text
    for body in _answers(response_type):
        assert set(body) == {"error", "message", "fields", "retryable"}
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["error"])
        assert isinstance(body["message"], str)
        assert body["message"]
        assert isinstance(body["retryable"], bool)
        assert all(isinstance(f, dict) and set(f) == {"field", "reason"} for f in body["fields"])
        assert all(isinstance(v, str) and v for f in body["fields"] for v in f.values())
    if "statusCode" in response:
        assert isinstance(response["statusCode"], str)
        assert re.fullmatch(r"[45][0-9]{2}", response["statusCode"])
    # A browser on the configured origin can read it; without one, no CORS header at all.
    assert response["responseParameters"] == {
        "Fn::If": [
            "HasCors",
            {"gatewayresponse.header.Access-Control-Allow-Origin": {"Fn::Sub": "'${CorsAllowOrigin}'"}},
            {"Ref": "AWS::NoValue"},
        ]
    }


@pytest.mark.parametrize("response_type", sorted(EXPECTED_ANSWERS))
def test_each_gateway_response_has_its_status_code_and_error(response_type):
    status, error, retryable, field = EXPECTED_ANSWERS[response_type]
    assert GATEWAY_RESPONSES[response_type].get("statusCode") == status
    for body in _answers(response_type):
        assert (body["error"], body["retryable"]) == (error, retryable)
        assert [f["field"] for f in body["fields"]] == ([field] if field else [])
    if response_type.startswith("DEFAULT_"):
        template = GATEWAY_RESPONSES[response_type]["responseTemplates"]["application/json"]
        assert f'"message": {MESSAGE_STRING}' in template


@pytest.mark.parametrize("origin", ["", "https://app.example.com"])
def test_the_local_stack_can_resolve_every_gateway_response(origin):
    stack = Stack(TEMPLATE, overrides={"CorsAllowOrigin": origin})
    for response_type, response in GATEWAY_RESPONSES.items():
        resolved = stack.resolve(response)
        headers = resolved.get("responseParameters", {})
        expected = {"gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'"} if origin else {}
        assert headers == expected, response_type
        assert isinstance(resolved["responseTemplates"]["application/json"], str), response_type


# ------------------------------------------------------------------ provider failover


def test_email_and_sms_name_their_providers_and_share_the_breakers_table():
    assert PARAMETERS["EmailProviders"]["AllowedValues"] == [
        "sendgrid",
        "ses",
        "sendgrid,ses",
        "ses,sendgrid",
    ]
    assert PARAMETERS["SmsProviders"]["AllowedValues"] == ["twilio", "eum", "twilio,eum", "eum,twilio"]
    assert (PARAMETERS["EmailProviders"]["Default"], PARAMETERS["SmsProviders"]["Default"]) == (
        "sendgrid",
        "twilio",
    )
    for function, providers in (("EmailFunction", "EmailProviders"), ("SmsFunction", "SmsProviders")):
        variables = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]
        assert variables[f"{providers[:-9].upper()}_PROVIDERS"] == {"Ref": providers}
        assert variables["BREAKERS_TABLE"] == {"Ref": "BreakersTable"}
        assert variables["BREAKER_FAILURES"] == {"Ref": "BreakerFailures"}
    table = of_type("AWS::DynamoDB::Table")["BreakersTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "DataKey"}


@pytest.mark.parametrize(
    ("providers", "uses_ses"),
    [("sendgrid", False), ("ses", True), ("sendgrid,ses", True), ("ses,sendgrid", True)],
)
def test_only_a_stack_that_names_ses_may_send_through_it_and_only_as_its_sender(providers, uses_ses):
    stack = Stack(
        TEMPLATE,
        overrides={"EmailProviders": providers, "EmailFromAddress": "hi@example.com"},
        refs={"SesConfigurationSet": "notifier-email"},
    )
    role = TEMPLATE["Resources"]["EmailRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [ses] = [s for s in role if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "SendThroughSes"]
    granted = [s for s in [stack.resolve(ses)] if isinstance(s, dict)]
    if not uses_ses:
        assert granted == []
        return
    [statement] = granted
    assert statement["Action"] == "ses:SendEmail"
    assert statement["Resource"] == [
        "arn:aws:ses:us-east-1:123456789012:identity/hi@example.com",
        "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "arn:aws:ses:us-east-1:123456789012:configuration-set/notifier-email",  # its receipts
    ]


def test_the_breaker_alarms_exist_only_with_a_fallback_and_watch_the_primary():
    for channel, fallback_stacks in (
        ("Email", ("sendgrid,ses", "ses,sendgrid")),
        ("Sms", ("twilio,eum", "eum,twilio")),
    ):
        alarm = of_type("AWS::CloudWatch::Alarm")[f"{channel}BreakerAlarm"]
        assert alarm["Condition"] == f"{channel}BreakerAlarmOn"
        disabled = Stack(
            TEMPLATE, overrides={f"{channel}Providers": fallback_stacks[0], "Alarms": "Disabled"}
        )
        assert not disabled.condition(alarm["Condition"])
        parameter = f"{channel}Providers"
        for providers in fallback_stacks:
            stack = Stack(TEMPLATE, overrides={parameter: providers, "EmailFromAddress": "hi@example.com"})
            assert stack.condition(alarm["Condition"])
            dimensions = stack.resolve(alarm["Properties"]["Dimensions"])
            assert {"Name": "provider", "Value": providers.split(",")[0]} in dimensions
        assert not Stack(TEMPLATE, overrides={parameter: fallback_stacks[0].split(",")[0]}).condition(
            alarm["Condition"]
        )
