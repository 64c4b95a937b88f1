"""template.yaml's production posture: least privilege, encryption, retention, API access, alarms.

The API's authorization is switched by a Parameter inside an OpenAPI definition SAM merges its routes
into; `test_each_authorization_mode_*` runs SAM's own translator (from the SAM CLI's environment) to
check what CloudFormation will create in each mode.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devstack.template import REPO_ROOT, TEMPLATE_PATH, Stack, load_template
from tests.tools.translation import translated as _translated

TEMPLATE = load_template()
STACK = Stack(TEMPLATE)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
RAW = TEMPLATE_PATH.read_text(encoding="utf-8")

FUNCTIONS = STACK.resources_of_type("AWS::Serverless::Function")
ROLES = STACK.resources_of_type("AWS::IAM::Role")
QUEUES = STACK.resources_of_type("AWS::SQS::Queue")
DLQS = {name for name in QUEUES if name.endswith("DLQ")}
SOURCE_QUEUES = set(QUEUES) - DLQS
CONSUMERS = {"EmailFunction": "Email", "SmsFunction": "Sms", "PushFunction": "Push", "InappFunction": "Inapp"}
# The queues the topic fills, a critical and a standard one per channel; the other source queue is
# the due queue of scheduled sends, whose messages wait there on purpose (SQS delays).
CHANNEL_QUEUES = {f"{c}{p}Queue" for c in CONSUMERS.values() for p in ("Critical", "Standard")}
# The roles the functions run as; the one other role is what EventBridge Scheduler sends as.
FUNCTION_ROLES = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in FUNCTIONS.values()}
SCHEDULE_PATH = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${AWS::StackName}-sends/*"
)
# The routes the vendors call with their receipts: open to anyone, verified by the vendor's signature.
WEBHOOKS = {("post", "/webhooks/sendgrid"), ("post", "/webhooks/twilio")}
# A recipient's inbox: the API key or an inbox token, checked by the publish function.
INBOX = {
    ("get", "/recipients/{recipientId}/inbox"),
    ("post", "/recipients/{recipientId}/inbox/{notificationId}/{mark}"),
    ("post", "/recipients/{recipientId}/inbox/mark-all/{mark}"),
}
# Paths a browser never preflights: GETs it sends without one, and the server-to-server webhooks.
NO_PREFLIGHT = {"/docs", "/openapi.json", "/webhooks/sendgrid", "/webhooks/twilio"}

# The only identity-policy statements allowed a "*" resource, each because its actions have no
# resource-level permissions; the template says so in a comment on the statement's Sid line.
STAR_EXCEPTIONS = {"SendTraces"}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # a conditional statement: check what it grants when it applies
                found += [s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"}]
            else:
                found.append(statement)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced(value: Any) -> set[str]:
    """Logical ids a resource expression points at (Ref, GetAtt, ${Name} or ${Name.Attr} in a Sub)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return {name.split(".")[0] for name in re.findall(r"\$\{([A-Za-z0-9.:]+)\}", text)}
        return {name for v in value.values() for name in _referenced(v)}
    if isinstance(value, list):
        return {name for v in value for name in _referenced(v)}
    return set()


# ------------------------------------------------------------------ IAM


def test_every_function_runs_as_its_own_role_with_no_sam_policies():
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"] for fn in FUNCTIONS.values()]
    assert all(attribute == "Arn" for _, attribute in roles)
    assert len({name for name, _ in roles}) == len(FUNCTIONS)  # one role each
    # SAM's Policies would attach AWS managed policies (basic execution, SQS polling) with "*".
    assert all("Policies" not in fn["Properties"] for fn in FUNCTIONS.values())
    assert "Role" not in TEMPLATE["Globals"]["Function"]


def test_every_role_is_a_functions_but_the_scheduler_role():
    assert set(ROLES) - FUNCTION_ROLES == {"SchedulerRole"}
    assert CHANNEL_QUEUES | {"DueQueue", "FallbackReceiptsQueue"} == SOURCE_QUEUES


@pytest.mark.parametrize("role", sorted(FUNCTION_ROLES))
def test_roles_are_assumed_only_by_lambda_in_this_account(role):
    [trust] = ROLES[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in ROLES[role]["Properties"]


def test_the_scheduler_role_is_assumed_only_by_scheduler_for_this_accounts_schedule_group():
    [trust] = ROLES["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": {"Fn::Sub": SCHEDULE_PATH}},
        },
    }
    # No wildcard but the schedule names in this stack's group.
    assert SCHEDULE_PATH.count("*") == 1
    assert SCHEDULE_PATH.endswith(":schedule/${AWS::StackName}-sends/*")
    assert RESOURCES["SendSchedules"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-sends"}
    assert "ManagedPolicyArns" not in ROLES["SchedulerRole"]["Properties"]
    [grant] = _statements(ROLES["SchedulerRole"])
    assert (grant["Action"], grant["Resource"]) == (
        "sqs:SendMessage",
        [{"Fn::GetAtt": ["DueQueue", "Arn"]}, {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]}],
    )
    assert "Condition" not in grant


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_statement_has_a_star_resource_except_the_commented_exceptions(role):
    for statement in _statements(ROLES[role]):
        resources = _as_list(statement["Resource"])
        actions = _as_list(statement["Action"])
        assert statement["Effect"] == "Allow"
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement
        if "*" not in resources:
            assert all(r != "*" for r in resources)
            continue
        assert statement["Sid"] in STAR_EXCEPTIONS, f"{role}: {statement['Sid']} has a * resource"
        lines = [line for line in RAW.splitlines() if re.search(rf"Sid: {statement['Sid']}\b", line)]
        assert lines
        assert all(re.search(r"#.*require", line) for line in lines), f"{statement['Sid']} needs its reason"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_statement_of_a_role_has_its_own_sid(role):
    """IAM refuses a policy whose Sids repeat; aliased statements (the same grant in several roles)
    make that easy to miss."""
    sids = [s["Sid"] for s in _statements(ROLES[role])]
    assert len(sids) == len(set(sids)), sids


def test_tracing_permissions_exist_only_when_tracing_is_on():
    # Scheduler's role sends no traces: it runs no code.
    assert not [s for s in _statements(ROLES["SchedulerRole"]) if s["Sid"] == "SendTraces"]
    for role in (ROLES[name] for name in FUNCTION_ROLES):
        [traces] = [
            s["Fn::If"]
            for p in role["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"]
            if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "SendTraces"
        ]
        assert traces[0] == "TracingOn"
        assert traces[2] == {"Ref": "AWS::NoValue"}
        assert traces[1]["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


@pytest.mark.parametrize(("function", "channel"), sorted(CONSUMERS.items()))
def test_a_consumer_touches_only_its_own_queues_the_tables_and_the_key(function, channel):
    role = FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    touched = {
        name
        for s in _statements(ROLES[role])
        for name in _referenced(s["Resource"])
        if name not in STAR_EXCEPTIONS
    }
    own_queues = {f"{channel}CriticalQueue", f"{channel}StandardQueue"}
    assert touched & set(QUEUES) == own_queues
    assert touched - set(QUEUES) <= {
        "StatusTable",
        "RecipientsTable",
        "SuppressionsTable",
        "SandboxReceiptsSecret",
        "DataKey",
        f"{channel}LogGroup",
        # the providers' circuit breakers, and SES identities (the sender, and its domain)
        *(["BreakersTable"] if channel in ("Email", "Sms") else []),
        *(["EmailFromAddress", "Domain", "SesConfigurationSet"] if channel == "Email" else []),
        *(["AWS::StackName"] if channel == "Sms" else []),  # its configuration set's name
        # the inbox, and the recipients' open WebSockets (their table, and posting to this stage's)
        *(["InboxTable", "ConnectionsTable", "InboxSocketApi", "StageName"] if channel == "Inapp" else []),
        "AWS::Partition",
        "AWS::Region",
        "AWS::AccountId",
        *(p for p in PARAMETERS if p.endswith("Credentials")),
    }
    assert "IdempotencyTable" not in touched
    assert "NotificationTopic" not in touched


def test_only_the_publish_and_due_functions_publish_and_publish_cannot_read_the_queues():
    publishers = {
        role for role, r in ROLES.items() for s in _statements(r) if "sns:Publish" in _as_list(s["Action"])
    }
    # The API publishes what is sent now; the due function what was scheduled, once it is due.
    assert publishers == {"PublishRole", "DueRole"}
    for role in publishers:
        [publish] = [s for s in _statements(ROLES[role]) if "sns:Publish" in _as_list(s["Action"])]
        assert (publish["Action"], publish["Resource"]) == ("sns:Publish", {"Ref": "NotificationTopic"})
    actions = {a for s in _statements(ROLES["PublishRole"]) for a in _as_list(s["Action"])}
    # It may only send, and only to the due queue: never read a queue, nor reach a channel's.
    sqs = [
        s
        for s in _statements(ROLES["PublishRole"])
        if any(a.startswith("sqs:") for a in _as_list(s["Action"]))
    ]
    assert [(s["Action"], s["Resource"]) for s in sqs] == [
        ("sqs:SendMessage", {"Fn::GetAtt": ["DueQueue", "Arn"]})
    ]
    assert not {a for a in actions if a.startswith("ssm:")}
    assert not {a for a in actions if a.startswith(("scheduler:", "iam:"))}
    # No vendor's credentials: the only secret it reads is the inbox tokens' key.
    readers = [
        s
        for s in _statements(ROLES["PublishRole"])
        if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
    ]
    assert [s["Resource"] for s in readers] == [{"Ref": "InboxTokenSecret"}]


def test_the_key_is_used_only_through_the_services_that_need_it():
    for role in ROLES.values():
        for statement in _statements(role):
            if any(a.startswith("kms:") for a in _as_list(statement["Action"])):
                assert statement["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
                via = statement["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"]
                assert via in {
                    "sns.${AWS::Region}.amazonaws.com",
                    "dynamodb.${AWS::Region}.amazonaws.com",
                    "secretsmanager.${AWS::Region}.amazonaws.com",
                }
                if via.startswith("secretsmanager."):  # and only for the stack's own secret
                    context = statement["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"]
                    assert context in ({"Ref": "SandboxReceiptsSecret"}, {"Ref": "InboxTokenSecret"})
                    assert statement["Action"] == "kms:Decrypt"


def _grants(function: str, sid: str) -> list[Any]:
    """The statements of `function`'s role with this Sid, each as written (an Fn::If left as it is)."""
    role = FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = ROLES[role]["Properties"]["Policies"]
    return [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if sid in {b.get("Sid") for b in (s["Fn::If"][1:] if "Fn::If" in s else [s])}
    ]


def test_the_sandbox_secret_is_readable_only_by_the_webhooks_and_the_sandboxes_that_sign_with_it():
    readers = {}
    for function in FUNCTIONS:
        for statement in _grants(function, "ReadTheSandboxReceiptsSecret"):
            readers[function] = statement["Fn::If"][0] if "Fn::If" in statement else None
            read = statement["Fn::If"][2] if "Fn::If" in statement else statement
            assert read["Action"] == "secretsmanager:GetSecretValue"
            assert read["Resource"] == {"Ref": "SandboxReceiptsSecret"}
            # and the key it is encrypted with, through Secrets Manager, under the same condition
            [key] = _grants(function, "UseTheDataKeyThroughSecretsManager")
            assert (key["Fn::If"][0] if "Fn::If" in key else None) == readers[function]
    # e-mail and SMS only while their vendor is not configured (the sandbox delivers them), when
    # statement["Fn::If"] is [condition, NoValue, the grant]; push's sandbox signs nothing.
    assert readers == {
        "EmailFunction": "HasSendGridCredentials",
        "SmsFunction": "HasTwilioCredentials",
        "WebhooksFunction": None,
    }
    for function in ("EmailFunction", "SmsFunction"):
        [statement] = _grants(function, "ReadTheSandboxReceiptsSecret")
        assert statement["Fn::If"][1] == {"Ref": "AWS::NoValue"}
    readable = {
        role for role, r in ROLES.items() for s in _statements(r) if "SandboxReceiptsSecret" in _referenced(s)
    }
    assert readable == {"EmailRole", "SmsRole", "WebhooksRole"}


def test_the_sandbox_secret_is_generated_and_encrypted_with_the_data_key():
    secret = RESOURCES["SandboxReceiptsSecret"]["Properties"]
    assert secret["GenerateSecretString"] == {"PasswordLength": 64, "ExcludePunctuation": True}
    assert secret["KmsKeyId"] == {"Ref": "DataKey"}
    assert "SecretString" not in secret


# ------------------------------------------------------------------ encryption and durability


def test_the_data_key_rotates_outlives_the_stack_and_names_its_service_principals():
    key = RESOURCES["DataKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"  # the recipients table is kept
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    principals = [s["Principal"] for s in statements]
    assert {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}} in principals
    for statement in statements:
        assert "*" not in json.dumps(statement["Principal"])
        if "Service" in statement["Principal"]:
            assert statement["Condition"], statement["Sid"]  # a service may use it only for this stack


def test_every_topic_is_encrypted_with_the_data_key():
    topics = STACK.resources_of_type("AWS::SNS::Topic")
    assert "NotificationTopic" in topics
    assert all(t["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"} for t in topics.values())


def test_every_queue_is_sqs_encrypted_and_every_dlq_keeps_messages_14_days():
    # a DLQ per channel queue, the due queue's, the fallback receipts', and Scheduler's (what it could
    # not deliver)
    assert {q.replace("Queue", "DLQ") for q in SOURCE_QUEUES} | {"ScheduleDLQ"} == DLQS
    assert len(DLQS) == 11
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in QUEUES.values())
    assert all(QUEUES[d]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600 for d in DLQS)


@pytest.mark.parametrize("table", sorted(STACK.resources_of_type("AWS::DynamoDB::Table")))
def test_every_table_is_encrypted_with_the_data_key_and_recoverable(table):
    properties = RESOURCES[table]["Properties"]
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Ref": "DataKey"},
    }
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_encrypted_log_group_with_the_retention_parameter(function):
    group = FUNCTIONS[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    properties = RESOURCES[group]["Properties"]
    assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert properties["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    role = FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    [logs] = [s for s in _statements(ROLES[role]) if s["Sid"] == "WriteItsOwnLogs"]
    assert logs["Resource"] == {"Fn::GetAtt": [group, "Arn"]}
    groups = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in FUNCTIONS.values()]
    assert groups.count(group) == 1


# ------------------------------------------------------------------ secrets


SECRET_SHAPES = [
    re.compile(r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),  # SendGrid API key
    re.compile(r"\bAC[0-9a-f]{32}\b.*\b[0-9a-f]{32}\b"),  # Twilio account SID with an auth token
    re.compile(r"-----BEGIN (RSA )?PRIVATE KEY-----"),  # a service account key
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
]


def test_no_environment_variable_carries_a_credential():
    variables = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for fn in FUNCTIONS.values():
        variables.update(fn["Properties"].get("Environment", {}).get("Variables", {}))
    for name, value in variables.items():
        if name.endswith("_CREDENTIALS"):  # the *name* of a secret or parameter, not its value
            assert value["Ref"] in PARAMETERS
            assert "NoEcho" not in PARAMETERS[value["Ref"]]
        elif name.endswith("_SECRET"):  # the ARN of the stack's own secret, whose value is generated
            assert RESOURCES[value["Ref"]]["Type"] == "AWS::SecretsManager::Secret", name
        elif name in ("INBOX_TOKEN_TTL_SECONDS", "INBOX_TOKEN_ISSUER"):  # about tokens, not one
            assert value in ({"Ref": "InboxTokenTtlSeconds"}, {"Ref": "AWS::StackName"}), name
        else:
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)", name), name


COGNITO_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example1"


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for pattern in ("events/*.json", "*.toml", "template.yaml", "devstack/*.json", "README.md")
        for p in REPO_ROOT.glob(pattern)
    ),
    ids=lambda p: p.name,
)
def test_no_credential_is_committed(path):
    text = path.read_text(encoding="utf-8")
    for shape in SECRET_SHAPES:
        assert not shape.search(text), f"{path.name} holds something shaped like a credential"


# ------------------------------------------------------------------ API access


def test_every_route_declares_its_authorization_and_no_other_route_exists():
    body = RESOURCES["NotificationApi"]["Properties"]["DefinitionBody"]
    declared = {
        (method, path) for path, methods in body["paths"].items() for method in methods if method != "options"
    }
    events = {
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for fn in FUNCTIONS.values()
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    }
    assert declared == events
    expected = {
        "Fn::If": [
            "UseIam",
            [{"sigv4": []}],
            {"Fn::If": ["UseCognito", [{"cognito": []}], [{"api_key": []}]]},
        ]
    }
    # The documentation is open to anyone while ApiDocs is Enabled, behind the same authorization
    # otherwise; the vendors' webhooks always (their function verifies the vendor's signature), and the
    # inbox (its function checks a token or the API key: notifier/inbox/access.py).
    docs = {("get", "/docs"), ("get", "/openapi.json")}
    for method, path in declared:
        wanted = {"Fn::If": ["ApiDocsOn", [], expected]} if (method, path) in docs else expected
        wanted = [] if (method, path) in WEBHOOKS | INBOX else wanted
        assert body["paths"][path][method]["security"] == wanted, (method, path)
    assert RESOURCES["NotificationApi"]["Properties"]["MergeDefinitions"] is True


def test_cors_is_closed_unless_an_origin_is_configured():
    assert PARAMETERS["CorsAllowOrigin"]["Default"] == ""
    body = RESOURCES["NotificationApi"]["Properties"]["DefinitionBody"]
    for path, methods in body["paths"].items():
        if path in NO_PREFLIGHT:
            assert "options" not in methods
            continue
        condition, preflight, otherwise = methods["options"]["Fn::If"]
        assert (condition, otherwise) == ("HasCors", {"Ref": "AWS::NoValue"}), path
        allowed = preflight["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        listed = set(allowed["method.response.header.Access-Control-Allow-Methods"].strip("'").split(","))
        assert listed == {m.upper() for m in methods if m != "options"} | {"OPTIONS"}, path
    for response in body["x-amazon-apigateway-gateway-responses"].values():
        assert response["responseParameters"]["Fn::If"][0] == "HasCors"
    assert FUNCTIONS["PublishFunction"]["Properties"]["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"] == {
        "Ref": "CorsAllowOrigin"
    }


def test_request_bodies_are_limited_by_a_parameter():
    limit = PARAMETERS["MaxRequestBytes"]
    assert limit["MaxValue"] <= 6 * 1024 * 1024  # Lambda's synchronous payload limit
    variables = FUNCTIONS["PublishFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["MAX_REQUEST_BYTES"] == {"Ref": "MaxRequestBytes"}


def _resolve_conditions(node: Any, stack: Stack) -> Any:
    """`node` with Fn::If decided for `stack`'s parameters (other intrinsics left as they are)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return _resolve_conditions(when_true if stack.condition(condition) else when_false, stack)
        resolved = {k: _resolve_conditions(v, stack) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [v for v in (_resolve_conditions(i, stack) for i in node) if v != {"Ref": "AWS::NoValue"}]
    return node


def _api_body(parameters: dict[str, str]) -> dict[str, Any]:
    translated = _translated()
    stack = Stack(translated, overrides=parameters)
    [api] = [r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body: dict[str, Any] = _resolve_conditions(api["Properties"]["Body"], stack)
    return body


EACH_AUTHORIZATION_MODE = pytest.mark.parametrize(
    ("parameters", "scheme"),
    [
        ({}, "api_key"),
        ({"ApiAuthorization": "AWS_IAM"}, "sigv4"),
        ({"ApiAuthorization": "COGNITO", "CognitoUserPoolArn": COGNITO_POOL}, "cognito"),
    ],
    ids=["API_KEY", "AWS_IAM", "COGNITO"],
)
DOCS = [("/docs", "get"), ("/openapi.json", "get")]


@EACH_AUTHORIZATION_MODE
def test_each_authorization_mode_protects_every_route_after_sams_transform(parameters, scheme):
    body = _api_body(parameters)
    methods = [(path, m, op) for path, ops in body["paths"].items() for m, op in ops.items()]
    assert len(methods) == 20  # no OPTIONS: CORS is closed by default
    for path, method, operation in methods:
        open_docs = path in ("/docs", "/openapi.json")  # ApiDocs is Enabled by default
        webhook = (method, path) in WEBHOOKS
        checked_by_the_function = webhook or (method, path) in INBOX
        assert operation["security"] == ([] if open_docs or checked_by_the_function else [{scheme: []}]), (
            path,
            method,
        )
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", (path, method)
        # the `live` alias (AutoPublishAlias), which SnapStart needs: published versions only
        function = "WebhooksFunction" if webhook else "PublishFunction"
        assert f"${{{function}Aliaslive}}" in integration["uri"]["Fn::Sub"], (path, method)
    schemes = body["components"]["securitySchemes"]
    if scheme == "cognito":
        authorizer = schemes["cognito"]["x-amazon-apigateway-authorizer"]
        assert authorizer["providerARNs"] == [{"Ref": "CognitoUserPoolArn"}]
    else:
        assert "cognito" not in schemes  # no authorizer with an empty user pool is created
    # API Gateway's own answers in the API's error shape, with no CORS header while CORS is closed.
    assert all("responseParameters" not in r for r in body["x-amazon-apigateway-gateway-responses"].values())


def test_with_an_origin_every_path_answers_preflight_without_authorization():
    body = _api_body({"CorsAllowOrigin": "https://app.example.com"})
    for path, operations in body["paths"].items():
        if path in NO_PREFLIGHT:
            assert "options" not in operations, path
            continue
        preflight = operations["options"]
        assert "security" not in preflight, path
        assert preflight["x-amazon-apigateway-integration"]["type"] == "mock"
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "INVALID_API_KEY"} <= set(responses)
    for response in responses.values():
        header = response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert header == {"Fn::Sub": "'${CorsAllowOrigin}'"}


def test_the_api_and_every_event_source_invoke_the_live_alias_so_snapstart_can_apply():
    resources = _translated()["Resources"]
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 8 + 1 + 1  # the channel queues, the due queue, the fallback receipts
    assert all(m["Properties"]["FunctionName"]["Ref"].endswith("Aliaslive") for m in mappings)
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert permissions
    for permission in permissions:
        source = permission["SourceArn"]["Fn::Sub"]
        route = (source[0] if isinstance(source, list) else source).rsplit("/", 1)[-1]
        function = "WebhooksFunction" if route in ("sendgrid", "twilio") else "PublishFunction"
        # the inbox WebSocket's routes and its authorizer
        function = "SocketFunction" if "InboxSocketApi" in json.dumps(source) else function
        assert permission["FunctionName"] == {"Ref": f"{function}Aliaslive"}, route
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert all(
        f["Properties"]["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}}
        for f in functions
    )


def test_the_usage_plan_and_key_exist_after_sams_transform():
    kinds = {r["Type"] for r in _translated()["Resources"].values()}
    assert {"AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"} <= kinds


# ------------------------------------------------------------------ alarms and dashboard


ALARMS = STACK.resources_of_type("AWS::CloudWatch::Alarm")


def _alarm_on(metric: str, dimension_ref: str) -> list[str]:
    return [
        name
        for name, alarm in ALARMS.items()
        if alarm["Properties"].get("MetricName") == metric
        and _referenced(alarm["Properties"]["Dimensions"][0]["Value"]) == {dimension_ref}
    ]


@pytest.mark.parametrize("dlq", sorted(DLQS))
def test_any_message_in_any_dlq_raises_an_alarm(dlq):
    [name] = _alarm_on("ApproximateNumberOfMessagesVisible", dlq)
    properties = ALARMS[name]["Properties"]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert properties["Statistic"] == "Maximum"


@pytest.mark.parametrize("queue", sorted(CHANNEL_QUEUES))
def test_every_source_queue_alarms_on_the_age_of_its_oldest_message(queue):
    """The channel queues: the due queue's messages are delayed on purpose (up to 15 minutes each), so
    their age is no lag; what the due function cannot handle reaches its DLQ, which alarms."""
    [name] = _alarm_on("ApproximateAgeOfOldestMessage", queue)
    priority = "Critical" if "Critical" in queue else "Standard"
    assert ALARMS[name]["Properties"]["Threshold"] == {"Ref": f"{priority}QueueAgeAlarmSeconds"}


@pytest.mark.parametrize("function", sorted(CONSUMERS))
def test_every_consumer_alarms_on_its_error_rate(function):
    matching = [
        alarm["Properties"]
        for alarm in ALARMS.values()
        if function in _referenced(alarm["Properties"].get("Metrics", []))
    ]
    [properties] = matching
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in properties["Metrics"] if "MetricStat" in m}
    assert names == {"Errors", "Invocations"}
    assert properties["Threshold"] == {"Ref": "ConsumerErrorRateAlarmPercent"}


def test_the_api_alarms_on_its_5xx_rate():
    [properties] = [
        a["Properties"]
        for a in ALARMS.values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "5XXError"
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    assert properties["Threshold"] == {"Ref": "Api5xxRateAlarmPercent"}


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_each_vendor_channel_alarms_when_bounces_pass_the_parameters_share_of_its_receipts(channel):
    [properties] = [
        a["Properties"]
        for a in ALARMS.values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "NotificationsBounced"
            and {"Name": "channel", "Value": channel} in m["MetricStat"]["Metric"]["Dimensions"]
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    assert properties["Threshold"] == {"Ref": "BounceRateAlarmPercent"}
    assert (properties["ComparisonOperator"], properties["TreatMissingData"]) == (
        "GreaterThanThreshold",
        "notBreaching",
    )
    stats = {m["Id"]: m["MetricStat"] for m in properties["Metrics"] if "MetricStat" in m}
    # Both priorities of both counts, as the functions write them (notifier/platform/metrics.py).
    seen = set()
    for stat in stats.values():
        metric = stat["Metric"]
        assert metric["Namespace"] == {"Ref": "AWS::StackName"}
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dimensions.keys() == {"service", "channel", "priority"}
        assert (
            dimensions["service"]
            == TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        )
        assert dimensions["channel"] == channel
        assert stat["Stat"] == "Sum"
        assert stat["Period"] == properties["Metrics"][0]["MetricStat"]["Period"]
        seen.add((metric["MetricName"], dimensions["priority"]))
    assert seen == {
        (m, p) for m in ("NotificationsBounced", "NotificationsDelivered") for p in ("critical", "standard")
    }
    assert all(not m.get("ReturnData", True) for m in properties["Metrics"][:-1])
    assert properties["Metrics"][-1]["Id"] == "rate"
    assert "IF(receipts > 0" in properties["Metrics"][-1]["Expression"]  # no receipts is no alarm
    assert PARAMETERS["BounceRateAlarmPercent"]["MaxValue"] == 100


def test_every_alarm_tells_the_configured_topic_or_email_and_names_itself_after_the_stack():
    actions = [
        {"Fn::If": ["AlarmsToEmail", {"Ref": "AlarmTopic"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    # DLQs (channels', the due queue's, the fallback receipts', Scheduler's), queue ages, consumers'
    # error rates, API, bounces, and the e-mail and SMS providers' breakers (with a fallback provider)
    assert len(ALARMS) == 11 + 8 + 4 + 1 + 2 + 2
    for alarm in ALARMS.values():
        assert alarm["Properties"]["AlarmActions"] == actions
        assert alarm["Properties"]["OKActions"] == actions
        # The key lets CloudWatch publish to the encrypted alarm topic for alarms named like this.
        assert alarm["Properties"]["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")
    assert RESOURCES["AlarmTopic"]["Condition"] == "AlarmsToEmail"
    assert RESOURCES["AlarmEmailSubscription"]["Condition"] == "AlarmsToEmail"
    assert RESOURCES["AlarmEmailSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_alarms_disabled_leaves_out_every_alarm_and_the_alarm_topic_and_keeps_the_dashboards_metrics():
    """Alarms=Disabled: for a short-lived stack, or an emulator without metric-math alarms."""
    everything = {
        "Alarms": "Enabled",
        "AlarmEmail": "ops@example.com",
        "EmailProviders": "sendgrid,ses",
        "SmsProviders": "twilio,eum",
        "EmailFromAddress": "hi@example.com",
    }
    on = Stack(TEMPLATE, overrides=everything)
    off = Stack(TEMPLATE, overrides={**everything, "Alarms": "Disabled"})
    alarmed = [*ALARMS, "AlarmTopic", "AlarmEmailSubscription"]
    assert all(on.condition(RESOURCES[name].get("Condition")) for name in alarmed)
    assert not any(off.condition(RESOURCES[name].get("Condition")) for name in alarmed)
    [(name, dashboard)] = STACK.resources_of_type("AWS::CloudWatch::Dashboard").items()
    assert "Condition" not in dashboard
    [text, variables] = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    condition, panel, none = variables["AlarmPanel"]["Fn::If"]
    for stack, panels in ((on, 1), (off, 0)):
        chosen = panel["Fn::Sub"] if stack.condition(condition) else none
        body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text.replace("${AlarmPanel}", chosen)))
        assert [w["type"] for w in body["widgets"]].count("alarm") == panels, name
        assert sum(w["type"] == "metric" for w in body["widgets"]) == 22


def test_the_dashboard_shows_every_queue_function_and_alarm_of_the_flow():
    [dashboard] = STACK.resources_of_type("AWS::CloudWatch::Dashboard").values()
    shown = _referenced(dashboard["Properties"]["DashboardBody"])
    assert set(QUEUES) <= shown
    assert set(FUNCTIONS) <= shown
    # The alarm panel (only with Alarms=Enabled, the condition of every alarm) names every alarm but
    # those that exist only with a fallback provider too: for those, the dashboard shows the metric.
    [text, variables] = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    condition, panel, none = variables["AlarmPanel"]["Fn::If"]
    assert (condition, none) == ("AlarmsOn", "")
    assert {name for name, alarm in ALARMS.items() if alarm["Condition"] == "AlarmsOn"} == _referenced(panel)
    assert {
        alarm["Properties"]["MetricName"] for alarm in ALARMS.values() if alarm["Condition"] != "AlarmsOn"
    } == {"ProviderBreakerOpened"}
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text.replace("${AlarmPanel}", "")))
    for metric in (
        "NotificationsPublished",
        "NotificationsSent",
        "NotificationsFailed",
        "NotificationsSuppressed",
        "NotificationsDeadLettered",
        "VendorLatency",
        "ColdStart",
        "NotificationsDelivered",
        "NotificationsBounced",
        "Complaints",
        "Unsubscribes",
        "ProviderFailures",
        "ProviderFailovers",
        "ProviderBreakerOpened",
    ):
        assert f'MetricName=\\"{metric}\\"' in json.dumps(body), metric


# ------------------------------------------------------------------ checkov


def test_every_checkov_skip_gives_its_reason():
    skips = [
        skip
        for resource in RESOURCES.values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"])
        assert len(skip["comment"].split()) >= 8, skip


@EACH_AUTHORIZATION_MODE
def test_with_api_docs_disabled_the_documentation_routes_ask_for_the_apis_authorization(parameters, scheme):
    """SAM's merge cannot take a path removed by a Condition (see the DefinitionBody): the two paths stay
    in the API, behind its authorization, and the function answers them 404."""
    body = _api_body({**parameters, "ApiDocs": "Disabled"})

    for path, method in DOCS:
        assert body["paths"][path][method]["security"] == [{scheme: []}], path
        assert (
            "${PublishFunctionAliaslive}"
            in body["paths"][path][method]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        )


def test_api_gateway_may_invoke_the_live_alias_on_the_docs_routes():
    permissions = [
        r["Properties"] for r in _translated()["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"
    ]
    for path, method in DOCS:
        [permission] = [
            p for p in permissions if p["SourceArn"]["Fn::Sub"][0].endswith(f"/{method.upper()}{path}")
        ]
        assert permission["FunctionName"] == {"Ref": "PublishFunctionAliaslive"}
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": "NotificationApi"}
