"""Creating the stack's messaging and storage resources from `template.yaml` through boto3.

Works against whatever boto3 is pointed at: moto in-process (functional tests), moto's server or
LocalStack (the local stack). Functions are not created; they are described (`FunctionSpec`) so the
local stack can run their handlers the way Lambda would. The APIs are not created either:
the local stack serves them itself. What refers to them resolves to a fixed local id, the REST API's
routes are read from the functions' Api events, and an `AWS::Serverless::WebSocketApi` is described
(`WebSocketApiSpec`: its routes, authorizer and stage) for `devstack.websocket`. Given the local
stack's API key, the REST API's usage plan is created in the emulator with that key in it, for the
functions that list a plan's keys themselves. IAM roles are not created either (the local stack
enforces no IAM): each is given the name and ARN CloudFormation would give it, for what passes its ARN
on (the scheduler role, to the schedules the due function creates). EventBridge Scheduler's schedule
groups are created; their schedules are fired by `devstack.schedules.ScheduleFirer`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from typing import Any

import boto3

from .template import Stack, TemplateError

_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
)


@dataclass(frozen=True)
class SqsEventSource:
    function: str
    name: str
    queue_logical_id: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int | None
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ApiRoute:
    function: str
    method: str
    path: str
    # False when the template's DefinitionBody gives the method `security: []`: API Gateway then asks
    # for no API key on it. Every other route of an API_KEY API needs the key.
    api_key_required: bool = True


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    sqs_sources: list[SqsEventSource] = field(default_factory=list)
    api_routes: list[ApiRoute] = field(default_factory=list)


@dataclass(frozen=True)
class WebSocketApiSpec:
    """An `AWS::Serverless::WebSocketApi`, as the local stack serves it (`devstack.websocket`)."""

    logical_id: str
    api_id: str
    stage: str
    route_selection_expression: str  # `$request.body.<field>[.<field>...]`
    routes: dict[str, str]  # route key ($connect, $disconnect, $default, or a custom key) -> function
    authorizer: str | None = None  # the function of the $connect REQUEST authorizer (AuthType CUSTOM)
    identity_sources: tuple[str, ...] = ()  # route.request.querystring.<name> / route.request.header.<name>


@dataclass
class Deployment:
    stack: Stack
    functions: dict[str, FunctionSpec]
    websocket_apis: dict[str, WebSocketApiSpec] = field(default_factory=dict)

    def output(self, name: str) -> str:
        value: str = self.stack.resolve(self.stack.template["Outputs"][name]["Value"])
        return value

    def queue_url(self, logical_id: str) -> str:
        return self.stack.refs[logical_id]

    @property
    def sqs_sources(self) -> list[SqsEventSource]:
        return [source for spec in self.functions.values() for source in spec.sqs_sources]

    @property
    def schedule_groups(self) -> dict[str, str]:
        """The EventBridge Scheduler schedule groups created: logical id -> group name."""
        return {
            logical_id: self.stack.refs[logical_id]
            for logical_id in self.stack.resources_of_type("AWS::Scheduler::ScheduleGroup")
            if logical_id in self.stack.refs
        }


ClientFactory = Callable[[str], Any]


def provision(
    stack: Stack,
    client: ClientFactory | None = None,
    *,
    api_key: str | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Deployment:
    """Create every supported resource of `stack`, in dependency order, and describe its functions and
    its WebSocket APIs. With `api_key`, the REST API's usage plan is created too, holding that key
    (see `_usage_plans`)."""
    # One client per service for the whole run (building a boto3 client costs milliseconds).
    make_client = cache(client or (lambda service: boto3.client(service, region_name=stack.region)))
    creators: dict[str, Callable[[Stack, str, dict[str, Any], ClientFactory], None]] = {
        "AWS::KMS::Key": _key,
        "AWS::SNS::Topic": _topic,
        "AWS::SQS::Queue": _queue,
        "AWS::SQS::QueuePolicy": _queue_policy,
        "AWS::SNS::Subscription": _subscription,
        "AWS::DynamoDB::Table": _table,
        "AWS::SecretsManager::Secret": _secret,
        "AWS::Scheduler::ScheduleGroup": _schedule_group,
    }
    _name_apis(stack)
    _name_roles(stack)
    graph = {
        logical_id: stack.dependencies(resource.get("Properties", {}))
        for logical_id, resource in stack.resources.items()
        if resource["Type"] in creators and stack.condition(resource.get("Condition"))
    }
    for logical_id in TopologicalSorter(graph).static_order():
        resource = stack.resources.get(logical_id)
        if resource is None or logical_id not in graph:
            continue
        properties = stack.resolve(resource.get("Properties", {}))
        creators[resource["Type"]](stack, logical_id, properties, make_client)
    if api_key is not None:
        _usage_plans(stack, api_key, make_client)
    functions = {
        logical_id: _function_spec(stack, logical_id)
        for logical_id in stack.resources_of_type("AWS::Serverless::Function")
    }
    websocket_apis = {
        logical_id: websocket_api(stack, logical_id)
        for logical_id, resource in stack.resources_of_type("AWS::Serverless::WebSocketApi").items()
        if stack.condition(resource.get("Condition"))
    }
    return Deployment(stack=stack, functions=functions, websocket_apis=websocket_apis)


LOCAL_API_ID = "local"
"""What Ref gives for the template's REST API: the id the local stack's gateway gives its events
(`devstack.api.ApiGateway.api_id`)."""

LOCAL_WEBSOCKET_API_ID = "localws"
"""What Ref gives for the template's WebSocket API, and the `apiId` of its events."""


def _name_apis(stack: Stack) -> None:
    """The APIs are not created (the local stack serves them itself), but what refers to them must
    resolve: their execute-api URLs, for one (https://local.execute-api...). The local stack gives the
    functions its own URLs instead: the REST API's through the PublicApiUrl Parameter, the WebSocket
    API's @connections endpoint as WEBSOCKET_MANAGEMENT_URL (`devstack.stack`)."""
    for logical_id in stack.resources_of_type("AWS::Serverless::Api"):
        stack.refs.setdefault(logical_id, LOCAL_API_ID)
    for logical_id in stack.resources_of_type("AWS::Serverless::WebSocketApi"):
        stack.refs.setdefault(logical_id, LOCAL_WEBSOCKET_API_ID)
        # The attributes of the AWS::ApiGatewayV2::Api SAM makes.
        stack.attrs.setdefault((logical_id, "ApiId"), LOCAL_WEBSOCKET_API_ID)
        stack.attrs.setdefault(
            (logical_id, "ApiEndpoint"),
            f"wss://{LOCAL_WEBSOCKET_API_ID}.execute-api.{stack.region}.{stack.pseudo('AWS::URLSuffix')}",
        )


def _name_roles(stack: Stack) -> None:
    """Roles are not created (the local stack enforces no IAM), but their Ref (the role's name) and
    Arn must resolve: a function passes the scheduler role's ARN to Scheduler, for one."""
    for logical_id, resource in stack.resources_of_type("AWS::IAM::Role").items():
        if not stack.condition(resource.get("Condition")):
            continue
        properties = resource.get("Properties", {})
        path = str(properties.get("Path", "/"))
        name = str(stack.resolve(properties.get("RoleName", stack.physical_name(logical_id))))
        stack.refs.setdefault(logical_id, name)
        stack.attrs.setdefault(
            (logical_id, "Arn"),
            f"arn:{stack.pseudo('AWS::Partition')}:iam::{stack.account_id}:role{path}{name}",
        )


# ------------------------------------------------------------------------------ the WebSocket API

_ROUTE_SELECTION = re.compile(r"\$request\.body\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_IDENTITY_SOURCE = re.compile(r"route\.request\.(querystring|header)\.([^.\s]+)")


def websocket_api(stack: Stack, logical_id: str) -> WebSocketApiSpec:
    """An `AWS::Serverless::WebSocketApi` of the template: its stage, route selection expression,
    routes (`Routes: {<key>: {FunctionArn: !Ref <Fn>.Alias}}`; also `!Ref <Fn>` or `!GetAtt <Fn>.Arn`)
    and its $connect authorizer (`Auth: {AuthType: CUSTOM, AuthArn: ..., IdentitySource: [...]}`).
    What the local stack cannot serve raises TemplateError naming it."""
    properties = stack.resources[logical_id].get("Properties", {})
    where = f"{logical_id} (AWS::Serverless::WebSocketApi)"
    expression = str(stack.resolve(properties.get("RouteSelectionExpression", "$request.body.action")))
    if not _ROUTE_SELECTION.fullmatch(expression):
        raise TemplateError(
            f"{where}: RouteSelectionExpression {expression!r}: the local stack evaluates "
            "$request.body.<field> only"
        )
    routes: dict[str, str] = {}
    declared = _present(stack, properties.get("Routes")) or {}
    if not isinstance(declared, dict):
        raise TemplateError(f"{where}: Routes is not a map")
    for route_key, declared_route in declared.items():
        route = _present(stack, declared_route)
        if route is None:
            continue
        if not isinstance(route, dict) or "FunctionArn" not in route:
            raise TemplateError(f"{where}: route {route_key} has no FunctionArn")
        routes[str(route_key)] = _function_named(stack, route["FunctionArn"], f"{where}: route {route_key}")
    authorizer: str | None = None
    sources: tuple[str, ...] = ()
    auth = _present(stack, properties.get("Auth"))
    auth_type = str(stack.resolve(auth.get("AuthType", "NONE"))) if isinstance(auth, dict) else "NONE"
    if auth_type == "CUSTOM" and isinstance(auth, dict):
        authorizer = _function_named(stack, auth.get("AuthArn"), f"{where}: Auth.AuthArn")
        sources = tuple(str(s) for s in stack.resolve(auth.get("IdentitySource") or []))
        for source in sources:
            if not _IDENTITY_SOURCE.fullmatch(source):
                raise TemplateError(
                    f"{where}: IdentitySource {source!r}: the local stack reads "
                    "route.request.querystring.<name> and route.request.header.<name> only"
                )
    elif auth_type != "NONE":
        raise TemplateError(f"{where}: AuthType {auth_type}: the local stack emulates CUSTOM and NONE only")
    return WebSocketApiSpec(
        logical_id=logical_id,
        api_id=str(stack.refs.get(logical_id, LOCAL_WEBSOCKET_API_ID)),
        stage=str(stack.resolve(properties.get("StageName", "default"))),
        route_selection_expression=expression,
        routes=routes,
        authorizer=authorizer,
        identity_sources=sources,
    )


def _function_named(stack: Stack, node: Any, where: str) -> str:
    """The function a route or authorizer invokes: `!Ref <Fn>.Alias`, `!Ref <Fn>` or
    `!GetAtt <Fn>.Arn`, where <Fn> is an AWS::Serverless::Function of the template."""
    node = _present(stack, node)
    name: str | None = None
    if isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and isinstance(arg, str):
            name = arg.removesuffix(".Alias")
        elif key == "Fn::GetAtt":
            name = str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
    resource = stack.resources.get(name or "")
    if resource is None or resource["Type"] != "AWS::Serverless::Function":
        raise TemplateError(f"{where}: {node!r} is not a Ref or GetAtt of a function of the template")
    return str(name)


# ------------------------------------------------------------------------------ the usage plan


def _usage_plans(stack: Stack, api_key: str, client: ClientFactory) -> None:
    """The REST API's usage plan (`Auth.UsagePlan` with a `UsagePlanName`), created in the emulator
    with an API key whose value is `api_key`, the key the local stack's gateway takes: functions that
    check a key themselves list the plan's keys (GetUsagePlans, GetUsagePlanKeys, GetApiKey). A plan
    or key already there (an emulator kept running) is kept."""
    for logical_id, api in stack.resources_of_type("AWS::Serverless::Api").items():
        if not stack.condition(api.get("Condition")):
            continue
        auth = _present(stack, api.get("Properties", {}).get("Auth"))
        plan = _present(stack, auth.get("UsagePlan")) if isinstance(auth, dict) else None
        if not isinstance(plan, dict):
            continue
        plan = stack.resolve(plan)
        if str(plan.get("CreateUsagePlan", "NONE")) == "NONE" or not plan.get("UsagePlanName"):
            continue
        _usage_plan_with_key(stack, client("apigateway"), str(plan["UsagePlanName"]), api_key, logical_id)


def _usage_plan_with_key(stack: Stack, apigateway: Any, name: str, api_key: str, api_logical_id: str) -> None:
    plans = [
        plan
        for page in apigateway.get_paginator("get_usage_plans").paginate()
        for plan in page.get("items", [])
        if plan.get("name") == name
    ]
    plan_id = plans[0]["id"] if plans else apigateway.create_usage_plan(name=name)["id"]
    keys = apigateway.get_paginator("get_usage_plan_keys").paginate(usagePlanId=plan_id)
    if any(key.get("value") == api_key for page in keys for key in page.get("items", [])):
        return
    key_id = _api_key(stack, apigateway, f"{stack.name}-{api_logical_id}-local-key", api_key)
    apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")


def _api_key(stack: Stack, apigateway: Any, name: str, value: str) -> str:
    """The id of an enabled API key of that value: one already there, or a new one."""
    for page in apigateway.get_paginator("get_api_keys").paginate(includeValues=True):
        for key in page.get("items", []):
            if key.get("value") == value:
                if not key.get("enabled"):
                    apigateway.update_api_key(
                        apiKey=key["id"],
                        patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}],
                    )
                return str(key["id"])
    return str(apigateway.create_api_key(name=name, value=value, enabled=True)["id"])


def _key(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    """A KMS key in the emulator, so what the template encrypts with it refers to a real key id."""
    description = str(properties.get("Description", logical_id))
    metadata = client("kms").create_key(Description=description)["KeyMetadata"]
    stack.refs[logical_id] = metadata["KeyId"]
    stack.attrs[(logical_id, "Arn")] = metadata["Arn"]
    stack.attrs[(logical_id, "KeyId")] = metadata["KeyId"]


def _topic(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    name = properties.get("TopicName") or stack.physical_name(logical_id)
    attributes = {k: str(properties[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in properties}
    arn = client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    stack.refs[logical_id] = arn
    stack.attrs[(logical_id, "TopicArn")] = arn
    stack.attrs[(logical_id, "TopicName")] = name


def _queue(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    name = properties.get("QueueName") or stack.physical_name(logical_id)
    attributes = {}
    for key in _QUEUE_ATTRIBUTES:
        if key not in properties:
            continue
        value = properties[key]
        attributes[key] = json.dumps(value) if isinstance(value, dict) else _text(value)
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.refs[logical_id] = url
    stack.attrs[(logical_id, "Arn")] = arn
    stack.attrs[(logical_id, "QueueName")] = name
    stack.attrs[(logical_id, "QueueUrl")] = url


def _schedule_group(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    """An EventBridge Scheduler schedule group. One already there (an emulator kept running) is kept
    with its schedules: moto's CreateScheduleGroup would replace it with an empty one."""
    name = str(properties.get("Name") or stack.physical_name(logical_id))
    scheduler = client("scheduler")
    try:
        arn = scheduler.get_schedule_group(Name=name)["Arn"]
    except scheduler.exceptions.ResourceNotFoundException:
        arguments: dict[str, Any] = {"Name": name}
        if properties.get("Tags"):
            arguments["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties["Tags"]]
        arn = scheduler.create_schedule_group(**arguments)["ScheduleGroupArn"]
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = arn


def _queue_policy(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    policy = json.dumps(properties["PolicyDocument"])
    for url in properties["Queues"]:
        client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    stack.refs[logical_id] = stack.physical_name(logical_id)


def _subscription(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    attributes: dict[str, str] = {}
    if _text(properties.get("RawMessageDelivery", False)) == "true":
        attributes["RawMessageDelivery"] = "true"
    if "FilterPolicy" in properties:
        attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
        attributes["FilterPolicyScope"] = properties.get("FilterPolicyScope", "MessageAttributes")
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    arn = client("sns").subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    stack.refs[logical_id] = arn


def _table(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    name = properties.get("TableName") or stack.physical_name(logical_id)
    dynamodb = client("dynamodb")
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
        "StreamSpecification",
    ):
        if key in properties:
            arguments[key] = properties[key]
    try:
        description = dynamodb.create_table(**arguments)["TableDescription"]
    except dynamodb.exceptions.ResourceInUseException:  # already there (an emulator kept running)
        description = dynamodb.describe_table(TableName=name)["Table"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and _text(ttl.get("Enabled")) == "true":
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    stack.refs[logical_id] = name
    stack.attrs[(logical_id, "Arn")] = description["TableArn"]


_PASSWORD_FLAGS = (
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)
"""GenerateSecretString's options that are flags; PasswordLength and ExcludeCharacters are the others."""


def _secret(stack: Stack, logical_id: str, properties: dict[str, Any], client: ClientFactory) -> None:
    """A secret in the emulator: its SecretString, or one generated as CloudFormation generates it
    (GenerateSecretString: the emulator's GetRandomPassword with the same options, placed in
    SecretStringTemplate under GenerateStringKey when there is one). Ref gives its ARN. A secret of
    that name already there (an emulator kept running) is kept, as CloudFormation keeps a secret's
    value across updates."""
    name = properties.get("Name") or stack.physical_name(logical_id)
    secrets = client("secretsmanager")
    arguments: dict[str, Any] = {
        "Name": name,
        "SecretString": _secret_string(logical_id, properties, secrets),
    }
    for key in ("Description", "KmsKeyId"):
        if properties.get(key):
            arguments[key] = str(properties[key])
    if properties.get("Tags"):
        arguments["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties["Tags"]]
    try:
        arn = secrets.create_secret(**arguments)["ARN"]
    except secrets.exceptions.ResourceExistsException:
        arn = secrets.describe_secret(SecretId=name)["ARN"]
    stack.refs[logical_id] = arn
    stack.attrs[(logical_id, "Id")] = arn


def _secret_string(logical_id: str, properties: dict[str, Any], secrets: Any) -> str:
    if "SecretString" in properties:
        if "GenerateSecretString" in properties:
            raise TemplateError(f"{logical_id}: SecretString and GenerateSecretString are exclusive")
        return str(properties["SecretString"])
    generate = properties.get("GenerateSecretString")
    if not isinstance(generate, dict):
        raise TemplateError(f"{logical_id}: a secret needs SecretString or GenerateSecretString")
    options: dict[str, Any] = {
        key: _text(generate[key]) == "true" for key in _PASSWORD_FLAGS if key in generate
    }
    if "PasswordLength" in generate:
        options["PasswordLength"] = int(generate["PasswordLength"])
    if "ExcludeCharacters" in generate:
        options["ExcludeCharacters"] = str(generate["ExcludeCharacters"])
    password = str(secrets.get_random_password(**options)["RandomPassword"])
    template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
    if template is None and key is None:
        return password
    if template is None or key is None:
        raise TemplateError(f"{logical_id}: SecretStringTemplate and GenerateStringKey go together")
    document = json.loads(str(template))
    document[str(key)] = password
    return json.dumps(document)


def _function_spec(stack: Stack, logical_id: str) -> FunctionSpec:
    properties = stack.function_properties(logical_id)
    environment = stack.resolve(properties.get("Environment", {}).get("Variables", {}))
    spec = FunctionSpec(
        logical_id=logical_id,
        code_uri=str(properties["CodeUri"]).rstrip("/"),
        handler=str(properties["Handler"]),
        timeout=int(stack.resolve(properties.get("Timeout", 3))),
        memory_size=int(stack.resolve(properties.get("MemorySize", 128))),
        environment={k: _text(v) for k, v in environment.items()},
    )
    for event_name, event in properties.get("Events", {}).items():
        event_properties = event.get("Properties", {})
        if event["Type"] == "SQS":
            queue = event_properties["Queue"]
            if "Fn::GetAtt" not in queue:
                raise TemplateError(f"{logical_id}.{event_name}: the queue must be a GetAtt of a queue")
            queue_logical_id = queue["Fn::GetAtt"][0]
            resolved = stack.resolve(event_properties)
            scaling = resolved.get("ScalingConfig", {})
            spec.sqs_sources.append(
                SqsEventSource(
                    function=logical_id,
                    name=event_name,
                    queue_logical_id=queue_logical_id,
                    queue_arn=resolved["Queue"],
                    queue_url=stack.refs[queue_logical_id],
                    batch_size=int(resolved.get("BatchSize", 10)),
                    batching_window_seconds=int(resolved.get("MaximumBatchingWindowInSeconds", 0)),
                    maximum_concurrency=int(scaling["MaximumConcurrency"]) if scaling else None,
                    report_batch_item_failures="ReportBatchItemFailures"
                    in resolved.get("FunctionResponseTypes", []),
                )
            )
        elif event["Type"] == "Api":
            route = _api_route(stack, logical_id, event_properties)
            if route is not None:
                spec.api_routes.append(route)
    return spec


_ANY_METHOD = "x-amazon-apigateway-any-method"


def _api_route(stack: Stack, function: str, properties: dict[str, Any]) -> ApiRoute | None:
    """The route an Api event adds, as the API's DefinitionBody declares it; None when the
    DefinitionBody declares its path (or method) and a Condition removes it: API Gateway then has no
    such route."""
    method = str(properties["Method"]).upper()
    path = str(properties["Path"])
    body = _definition_body(stack, properties.get("RestApiId"))
    paths = _present(stack, body.get("paths")) if body is not None else None
    api_key_required = True
    if isinstance(paths, dict) and path in paths:
        item = _present(stack, paths[path])
        if not isinstance(item, dict):
            return None
        operation_key = _ANY_METHOD if method == "ANY" else method.lower()
        if operation_key in item:
            operation = _present(stack, item[operation_key])
            if not isinstance(operation, dict):
                return None
            # OpenAPI: an operation's `security` replaces the API's; `[]` means no authorization.
            security = operation.get("security", body.get("security") if body is not None else None)
            api_key_required = security is None or stack.resolve(security) != []
    return ApiRoute(function=function, method=method, path=path, api_key_required=api_key_required)


def gateway_responses(stack: Stack, api_logical_id: str) -> dict[str, dict[str, Any]]:
    """The API's gateway responses (`x-amazon-apigateway-gateway-responses` in its DefinitionBody),
    resolved: response type -> {statusCode, responseTemplates, responseParameters}. Empty when the
    template declares none (or a Condition removes them)."""
    body = _definition_body(stack, {"Ref": api_logical_id})
    declared = _present(stack, body.get("x-amazon-apigateway-gateway-responses")) if body else None
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise TemplateError(f"{api_logical_id}: x-amazon-apigateway-gateway-responses is not a map")
    responses: dict[str, dict[str, Any]] = {}
    for response_type, response in declared.items():
        resolved = stack.resolve(response)
        if isinstance(resolved, dict):  # anything else was removed by a Condition (AWS::NoValue)
            responses[str(response_type)] = resolved
    return responses


def _definition_body(stack: Stack, rest_api_id: Any) -> dict[str, Any] | None:
    """The DefinitionBody of the AWS::Serverless::Api that `rest_api_id` (a Ref) names, if any."""
    if not (isinstance(rest_api_id, dict) and set(rest_api_id) == {"Ref"}):
        return None
    api = stack.resources.get(str(rest_api_id["Ref"]))
    if api is None or api["Type"] != "AWS::Serverless::Api":
        return None
    body = api.get("Properties", {}).get("DefinitionBody")
    return body if isinstance(body, dict) else None


def _present(stack: Stack, node: Any) -> Any:
    """`node` with its Fn::If chosen by the conditions, and None when it is AWS::NoValue; what it
    contains is left unresolved (an integration may refer to resources the local stack does not
    create)."""
    while isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Fn::If":
            condition, when_true, when_false = arg
            node = when_true if stack.condition(condition) else when_false
        elif key == "Ref" and arg == "AWS::NoValue":
            return None
        else:
            break
    return node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
