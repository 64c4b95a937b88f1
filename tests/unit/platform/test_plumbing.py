"""The settings model, the API error shape and the template reader."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.template import REPO_ROOT, Stack, TemplateError, parse_overrides
from notifier.api.answers import validation_error_response
from notifier.errors import ConfigurationError
from notifier.platform.clients import execute_api_address
from notifier.platform.settings import FunctionSettings, PublishSettings, settings_from


def test_missing_configuration_fails_naming_the_variable():
    with pytest.raises(ConfigurationError, match="STATUS_TABLE"):
        settings_from({}, FunctionSettings)


def test_malformed_configuration_fails_naming_the_variable():
    with pytest.raises(ConfigurationError, match="STATUS_TTL_DAYS"):
        settings_from({"STATUS_TABLE": "t", "STATUS_TTL_DAYS": "soon"}, FunctionSettings)


def test_a_setting_a_function_requires_is_named_when_absent():
    with pytest.raises(ConfigurationError, match="TOPIC_ARN"):
        settings_from({"STATUS_TABLE": "t"}, PublishSettings)


@pytest.mark.parametrize("seconds", ["1", "4", "86401", "-5"])
def test_a_digest_window_override_is_zero_or_at_least_five_seconds(seconds):
    with pytest.raises(ConfigurationError, match="DIGEST_WINDOW_SECONDS"):
        settings_from({"STATUS_TABLE": "t", "DIGEST_WINDOW_SECONDS": seconds}, FunctionSettings)
    for accepted in ("0", "5", "86400"):
        assert settings_from(
            {"STATUS_TABLE": "t", "DIGEST_WINDOW_SECONDS": accepted}, FunctionSettings
        ).digest_window_seconds == int(accepted)


def test_validation_errors_name_the_field_without_the_request_part():
    answer = validation_error_response(
        [{"loc": ("body", "request", "payload", "parent_id"), "msg": "Field required", "type": "missing"}]
    )

    assert answer.status_code == 400
    assert '"field":"payload.parent_id"' in str(answer.body)


TEMPLATE = {
    "Parameters": {
        "Size": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
        "Level": {"Type": "String", "Default": "INFO", "AllowedValues": ["INFO", "DEBUG"]},
    },
    "Conditions": {"IsDebug": {"Fn::Equals": [{"Ref": "Level"}, "DEBUG"]}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}},
}


def test_intrinsics_resolve_against_parameters_pseudo_parameters_and_created_resources():
    stack = Stack(TEMPLATE, name="demo", overrides={"Level": "DEBUG"})
    stack.refs["Queue"] = "https://sqs/demo-Queue"
    stack.attrs[("Queue", "Arn")] = "arn:aws:sqs:us-east-1:123456789012:demo-Queue"

    resolved = stack.resolve(
        {
            "a": {"Fn::Sub": "${AWS::StackName}-${Size}-${Queue.Arn}-${!Literal}"},
            "b": {"Fn::Join": [",", [{"Ref": "Queue"}, "x"]]},
            "c": {"Fn::If": ["IsDebug", "debug", "quiet"]},
            "d": {"Ref": "AWS::NoValue"},
            "e": {"Fn::Select": [1, {"Fn::Split": ["-", "a-b-c"]}]},
        }
    )

    assert resolved == {
        "a": "demo-5-arn:aws:sqs:us-east-1:123456789012:demo-Queue-${Literal}",
        "b": "https://sqs/demo-Queue,x",
        "c": "debug",
        "e": "b",
    }


def test_dependencies_are_found_through_refs_getatts_and_subs():
    stack = Stack(TEMPLATE)

    found = stack.dependencies({"x": [{"Ref": "Queue"}, {"Fn::Sub": "${Queue.Arn}"}, {"Ref": "Size"}]})

    assert found == {"Queue"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Size": "11"}, "MaxValue"),
        ({"Size": "x"}, "not a number"),
        ({"Level": "TRACE"}, "one of"),
        ({"Nope": "1"}, "unknown"),
    ],
)
def test_parameter_overrides_are_checked_like_cloudformation_checks_them(overrides, message):
    with pytest.raises(TemplateError, match=message):
        Stack(TEMPLATE, overrides=overrides)


def test_overrides_are_read_in_both_of_sam_deploys_forms():
    assert parse_overrides("A=1 B=x=y") == {"A": "1", "B": "x=y"}
    assert parse_overrides(["ParameterKey=A,ParameterValue=2"]) == {"A": "2"}
    with pytest.raises(TemplateError):
        parse_overrides("A")


@pytest.mark.parametrize(
    ("function", "missing"),
    [
        ("publish", "TOPIC_ARN"),
        ("publish", "IDEMPOTENCY_TABLE"),
        ("email", "STATUS_TABLE"),
        ("push", "STATUS_TABLE"),
    ],
)
def test_a_function_missing_a_variable_fails_its_cold_start_naming_it(function, missing):
    """Each function validates its own settings when its handler module is imported (Lambda's init),
    not on the first request that happens to need the variable."""
    environment = {
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "layers" / "common"), str(REPO_ROOT)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "STATUS_TABLE": "status",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
        "IDEMPOTENCY_TABLE": "idempotency",
    }
    del environment[missing]
    init = subprocess.run(
        [sys.executable, "-c", f"import functions.{function}.app"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert init.returncode != 0
    assert f"ConfigurationError: invalid configuration: {missing}: Field required" in init.stderr


# ---------------------------------------------------------------- an API of the stack's own, in an emulator


@pytest.mark.parametrize(
    ("url", "endpoint", "address"),
    [
        # In AWS (no AWS_ENDPOINT_URL): the URL itself.
        ("https://abc123.execute-api.us-east-1.amazonaws.com/prod", None, None),
        # In MiniStack or LocalStack, which set AWS_ENDPOINT_URL in their functions: their path form.
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            "http://127.0.0.1:4567",
            "http://127.0.0.1:4567/_aws/execute-api/abc123/prod",
        ),
        (
            "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/v1/webhooks/twilio?notification_id=n-1",
            "http://127.0.0.1:4566/",
            "http://127.0.0.1:4566/_aws/execute-api/abc123/v1/webhooks/twilio?notification_id=n-1",
        ),
        # MiniStack's own name for a WebSocket API, which a socket function's request gives.
        (
            "https://abc123.execute-api.localhost/prod",
            "http://127.0.0.1:4567",
            "http://127.0.0.1:4567/_aws/execute-api/abc123/prod",
        ),
        # Not an execute-api URL (a custom domain, the local stack's own servers): itself.
        ("https://notify.example.com/webhooks/sendgrid", "http://127.0.0.1:4566", None),
        ("http://127.0.0.1:3001", "http://127.0.0.1:4566", None),
    ],
)
def test_an_execute_api_url_is_reached_through_the_emulator_only_in_one(monkeypatch, url, endpoint, address):
    if endpoint is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert execute_api_address(url) == (address or url)
