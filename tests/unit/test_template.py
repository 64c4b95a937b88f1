"""template.yaml keeps the promises the architecture makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.template import REPO_ROOT, Stack, load_template

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
SOURCE_QUEUES = {props["Queue"]["Fn::GetAtt"][0] for _, _, props in SQS_EVENTS}


def test_every_function_runs_python_3_13():
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.13"
    assert all("Runtime" not in fn["Properties"] for fn in FUNCTIONS.values())


def test_six_source_queues_each_have_their_own_dead_letter_queue():
    assert len(SOURCE_QUEUES) == 6
    dlqs = [
        QUEUES[q]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in SOURCE_QUEUES
    ]
    assert len(set(dlqs)) == 6
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
    for name in ("EmailFunction", "SmsFunction", "PushFunction"):
        own = {q for n, _, props in SQS_EVENTS if n == name for q in [props["Queue"]["Fn::GetAtt"][0]]}
        [statement] = [s for s in role_statements(name) if s.get("Sid") == "BackOffFailedRecords"]
        assert statement["Action"] == "sqs:ChangeMessageVisibility"
        assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == own


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
    for name, _, props in SQS_EVENTS:
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

    for _, event_name, props in SQS_EVENTS:
        queue = props["Queue"]["Fn::GetAtt"][0]
        assert ("Critical" in queue) == (event_name == "Critical")
    critical = next(p for _, e, p in SQS_EVENTS if e == "Critical")
    standard = next(p for _, e, p in SQS_EVENTS if e == "Standard")
    assert default(critical["MaximumBatchingWindowInSeconds"]) == 0
    assert default(standard["MaximumBatchingWindowInSeconds"]) > 0
    assert default(critical["BatchSize"]) < default(standard["BatchSize"])
    assert default(critical["ScalingConfig"]["MaximumConcurrency"]) > default(
        standard["ScalingConfig"]["MaximumConcurrency"]
    )


def test_each_subscription_delivers_raw_and_filters_on_channel_and_priority():
    subscriptions = {
        k: s for k, s in of_type("AWS::SNS::Subscription").items() if s["Properties"]["Protocol"] == "sqs"
    }
    assert {s["Properties"]["Endpoint"]["Fn::GetAtt"][0] for s in subscriptions.values()} == SOURCE_QUEUES
    for sub in subscriptions.values():
        props = sub["Properties"]
        assert props["RawMessageDelivery"] is True
        assert props["FilterPolicyScope"] == "MessageAttributes"
        assert set(props["FilterPolicy"]) == {"channel", "priority"}


def test_only_the_topic_may_send_to_the_queues():
    [policy] = of_type("AWS::SQS::QueuePolicy").values()
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


def test_the_api_has_the_contract_and_recipient_routes_and_no_catch_all():
    routes = sorted(
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for fn in FUNCTIONS.values()
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    )
    assert routes == [
        ("delete", "/recipients/{recipientId}"),
        ("get", "/event/{event_id}"),
        ("get", "/recipients/{recipientId}"),
        ("post", "/api/v1/notifications/publish"),
        ("post", "/event"),
        ("post", "/events/bulk"),
        ("put", "/recipients/{recipientId}"),
    ]
    assert not any("proxy+" in path or path == "/{proxy}" for _, path in routes)


def test_the_status_table_expires_items():
    table = of_type("AWS::DynamoDB::Table")["StatusTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_outputs_name_every_queue_dlq_table_the_topic_and_the_api():
    outputs = TEMPLATE["Outputs"]
    referenced = {o["Value"].get("Ref") for o in outputs.values() if isinstance(o["Value"], dict)}
    assert set(QUEUES) <= referenced
    assert set(of_type("AWS::DynamoDB::Table")) <= referenced
    assert "NotificationTopic" in referenced
    assert "ApiUrl" in outputs


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function_has_its_handler_and_its_own_requirements(name):
    props = FUNCTIONS[name]["Properties"]
    code = REPO_ROOT / props["CodeUri"]
    module, function = props["Handler"].split(".")
    source = (code / f"{module}.py").read_text()
    assert f"def {function}(" in source
    assert (code / "requirements.txt").is_file()


def test_the_common_layer_is_built_by_sam_from_its_requirements():
    [layer] = of_type("AWS::Serverless::LayerVersion").values()
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    content = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file()
    assert (content / "notifier" / "__init__.py").is_file()
    assert Path(content / "notifier" / "routing_rules.json").is_file()


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
        *(f"functions/{n}/requirements.txt" for n in ("email", "sms", "push")),
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
        ("publish", None, {"sendgrid", "twilio", "firebase-admin"}),
    ],
)
def test_each_function_ships_its_own_vendor_sdk_and_no_other(function, sdk, others):
    shipped = pins(REPO_ROOT / "functions" / function / "requirements.txt")
    assert sdk is None or sdk in shipped
    assert not others & set(shipped)


def test_vendor_credentials_are_readable_only_by_their_function_and_only_when_named():
    grants = {}
    for name, fn in FUNCTIONS.items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        [policy] = of_type("AWS::IAM::Role")[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" not in statement or statement["Fn::If"][1].get("Sid") != "ReadVendorCredentials":
                continue
            condition, allow, otherwise = statement["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            assert allow["Action"] == ["secretsmanager:GetSecretValue", "ssm:GetParameter"]
            resources = allow["Resource"]["Fn::If"][1:]
            assert all("*" not in r["Fn::Sub"] for r in resources)
            grants[name] = (condition, {r["Fn::Sub"].split("${")[-1].split("}")[0] for r in resources})
    assert grants == {
        "EmailFunction": ("HasSendGridCredentials", {"SendGridCredentials"}),
        "SmsFunction": ("HasTwilioCredentials", {"TwilioCredentials"}),
        "PushFunction": ("HasFcmCredentials", {"FcmCredentials"}),
    }
