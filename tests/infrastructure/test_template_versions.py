"""A deploy that changes what a function runs publishes a new version of it, which `live` then points at.

The API and every event source invoke the `live` alias (AutoPublishAlias). CloudFormation publishes a
new AWS::Lambda::Version, and moves `live` to it, when the version's logical id changes (a new
resource) or its Description does (which cannot be updated: the version is replaced). SAM derives the
logical id from the template's text with intrinsics unresolved, so a new Parameter value alone changes
neither; each function's VersionDescription carries the values (or short codes) of the Parameters its
configuration is made of (see Globals in template.yaml, and aws/serverless-application-model#1640 and
#3820).

Which Parameters make up which function is derived here from the template itself (its properties and
Globals', through Ref, Sub, If and Conditions), so a variable added from a Parameter and forgotten in
the VersionDescription fails these tests. Each Parameter is then changed alone and the template
translated by SAM's own translator (from the SAM CLI's environment): exactly the functions it
configures get a new version. A Parameter in a VersionDescription that configures nothing would fail a
real deploy (Lambda publishes no version of an unchanged function), so "exactly" matters both ways.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import pytest

from devstack.template import Stack, load_template
from tests.tools.translation import SAM_PYTHON, translate_many

TEMPLATE = load_template()
STACK = Stack(TEMPLATE)
PARAMETERS: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
CONDITIONS: dict[str, Any] = TEMPLATE.get("Conditions", {})
FUNCTIONS = sorted(STACK.resources_of_type("AWS::Serverless::Function"))
LAYERS = sorted(STACK.resources_of_type("AWS::Serverless::LayerVersion"))


# Function properties that are not part of a version: an event source's settings live on its event
# source mapping or permission, which CloudFormation updates in place and which invoke `live`.
NOT_VERSIONED = {"Events", "VersionDescription"}
DESCRIPTION_LIMIT = 256  # characters of an AWS::Lambda::Version's Description
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9_:]+)\}")  # ${Name}; ${!Literal} and ${Resource.Attr} are not


# ------------------------------------------------------------------ what each function is made of


def parameters_in(node: Any) -> set[str]:
    """The Parameters `node` depends on: through Ref, ${Name} in Sub, and the Conditions of Fn::If."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= parameters_in(item)
    elif isinstance(node, dict):
        for key, arg in node.items():
            if key == "Ref":
                found |= {arg} & PARAMETERS.keys()
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                found |= (set(_SUB_NAME.findall(text)) - variables.keys()) & PARAMETERS.keys()
                found |= parameters_in(variables)
            elif key == "Fn::If":
                found |= condition_parameters(arg[0]) | parameters_in(arg[1:])
            elif key == "Condition" and isinstance(arg, str):
                found |= condition_parameters(arg)
            else:
                found |= parameters_in(arg)
    return found


def condition_parameters(name: str) -> set[str]:
    return parameters_in(CONDITIONS[name])


def configuration(function: str) -> dict[str, Any]:
    """What a version of `function` is made of: its properties with Globals merged in, as SAM merges them."""
    properties = STACK.function_properties(function)
    return {key: value for key, value in properties.items() if key not in NOT_VERSIONED}


MADE_OF = {function: parameters_in(configuration(function)) for function in FUNCTIONS}


def _description(function: str) -> tuple[str, dict[str, Any]]:
    """A VersionDescription's text and its Sub's variables (short codes of Parameters, see Globals)."""
    description = TEMPLATE["Resources"][function]["Properties"]["VersionDescription"]
    assert set(description) == {"Fn::Sub"}, function
    arg = description["Fn::Sub"]
    text, variables = (arg, {}) if isinstance(arg, str) else arg
    assert isinstance(text, str), function
    return text, variables


def description_parameters(function: str) -> list[str]:
    """The Parameters a VersionDescription shows, in order, one entry per time each is shown: named
    in its text, or through a variable (through its Conditions too)."""
    text, variables = _description(function)
    named = []
    for name in _SUB_NAME.findall(text):
        assert name in PARAMETERS or name in variables, f"{function}: ${{{name}}} is no Parameter or variable"
        named += [name] if name in PARAMETERS else sorted(parameters_in(variables[name]))
    return named


def test_the_derivation_follows_variables_globals_and_conditions():
    # A cross-check of parameters_in on what the template is known to do, not the source of truth.
    assert parameters_in({"Fn::If": ["TracingOn", "false", "true"]}) == {"Tracing"}
    assert parameters_in({"Fn::Sub": ["${A}-${MaxReceiveCount}", {"A": {"Ref": "LogLevel"}}]}) == {
        "MaxReceiveCount",
        "LogLevel",
    }
    for name in ("MaxReceiveCount", "RetryMaxSeconds", "LogLevel", "Tracing", "SnapStart"):
        assert all(name in MADE_OF[function] for function in FUNCTIONS), name
    assert {f for f in FUNCTIONS if "ConsumerTimeoutSeconds" in MADE_OF[f]} == {
        "EmailFunction",
        "SmsFunction",
        "PushFunction",
        "InappFunction",
    }
    assert {f for f in FUNCTIONS if "InboxTtlDays" in MADE_OF[f]} == {"InappFunction"}
    assert {f for f in FUNCTIONS if "InboxTokenTtlSeconds" in MADE_OF[f]} == {
        "PublishFunction",
        "SocketFunction",
    }
    assert {f for f in FUNCTIONS if "SendGridCredentials" in MADE_OF[f]} == {
        "EmailFunction",
        "WebhooksFunction",
    }
    # The consumers' PUBLIC_API_URL: PublicApiUrl, or the execute-api URL of the stage.
    assert {f for f in FUNCTIONS if {"PublicApiUrl", "StageName"} <= MADE_OF[f]} == {
        "EmailFunction",
        "SmsFunction",
        "PushFunction",
    }
    assert {f for f in FUNCTIONS if "PublicApiUrl" in MADE_OF[f]} == {
        "EmailFunction",
        "SmsFunction",
        "PushFunction",
        "WebhooksFunction",
    }
    assert {f for f in FUNCTIONS if {"MaxRequestBytes", "ApiDocs"} <= MADE_OF[f]} == {"PublishFunction"}
    assert not any({"ApiRateLimit", "AlarmEmail", "BounceRateAlarmPercent"} & MADE_OF[f] for f in FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_version_description_holds_exactly_the_parameters_its_function_is_made_of(function):
    named = description_parameters(function)
    assert len(named) == len(set(named)), "each Parameter once"
    missing, extra = MADE_OF[function] - set(named), set(named) - MADE_OF[function]
    assert not missing, f"{function}: a change of {sorted(missing)} would not reach `live`"
    assert not extra, f"{function}: a change of {sorted(extra)} alone would fail the deploy"


def test_every_function_publishes_on_any_change_of_its_properties_or_its_layers_content():
    assert TEMPLATE["Globals"]["Function"]["AutoPublishAlias"] == "live"
    for function in FUNCTIONS:
        properties = configuration(function)
        assert properties["AutoPublishAliasAllProperties"] is True, function
        # It would replace the hash of the code by its own first 10 characters.
        assert "AutoPublishCodeSha256" not in properties, function
        for layer in properties.get("Layers", []):
            assert TEMPLATE["Resources"][layer["Ref"]]["Properties"]["PublishLambdaVersion"] is True


def _longest(name: str) -> int:
    """The most characters a value of Parameter `name` can take: from its AllowedValues or MaxLength;
    for a Number, integers within its bounds, or a fraction of at most 4 decimals (0.0001) when they
    are 0 and 1 (CloudFormation bounds a Number's digits no further)."""
    spec = PARAMETERS[name]
    if "AllowedValues" in spec:
        return max(len(str(value)) for value in spec["AllowedValues"])
    if "MaxLength" in spec:
        return int(spec["MaxLength"])
    if spec["Type"] == "Number" and "MinValue" in spec and "MaxValue" in spec:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        return len("0.0001") if high - low <= 1 else max(len(str(int(low))), len(str(int(high))))
    pytest.fail(f"{name} has no MaxLength (or MaxValue): a VersionDescription holding it could exceed 256")


def _longest_value(node: Any) -> int:
    """The most characters a Sub variable's value can take: a literal, a Parameter, the longer branch
    of an Fn::If, the items of an Fn::Join, or the longest of a map's values (Fn::FindInMap)."""
    if isinstance(node, str):
        return len(node)
    [(key, arg)] = node.items()
    if key == "Ref":
        return _longest(arg)
    if key == "Fn::If":
        return max(_longest_value(branch) for branch in arg[1:])
    if key == "Fn::Join":
        delimiter, items = arg
        return len(delimiter) * (len(items) - 1) + sum(_longest_value(item) for item in items)
    if key == "Fn::FindInMap":  # every value of the map's attribute
        mapping, _, attribute = arg
        return max(len(str(values[attribute])) for values in TEMPLATE["Mappings"][mapping].values())
    pytest.fail(f"{key} in a VersionDescription's variable: its length is not known")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_version_description_fits_in_256_characters_whatever_the_values(function):
    text, variables = _description(function)
    names = _SUB_NAME.findall(text)
    shown = sum(_longest(name) if name in PARAMETERS else _longest_value(variables[name]) for name in names)
    longest = len(_SUB_NAME.sub("", text)) + shown
    assert longest <= DESCRIPTION_LIMIT, f"{function}: up to {longest} characters"


# ------------------------------------------------------------------ SAM's translator, case by case

# The values the cases change each Parameter to; any other Parameter takes the first valid value
# that differs from its default (see _another_value).
CHOSEN = {
    "MaxReceiveCount": "5",
    "RetryMaxSeconds": "4",
    "ConsumerTimeoutSeconds": "3",
    "SendGridCredentials": "notifier/sendgrid",
    "MaxRequestBytes": "2048",
    "LogLevel": "DEBUG",
    "SnapStart": "Enabled",
    "Tracing": "Active",
    "ApiDocs": "Disabled",
    "ApiRateLimit": "50",
    "AlarmEmail": "ops@example.com",
}
CANDIDATES = [
    "notifier/sandbox-test",
    "prod_v2",
    "ops@example.com",
    "https://app.example.com",
    "+15550100123",
    "MG" + "0" * 32,
    "ie1",
    "dublin",
    "12345",
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example1",
    "arn:aws:sns:us-east-1:123456789012:pager",
]


def _another_value(name: str) -> str:
    spec = PARAMETERS[name]
    default = str(spec.get("Default", ""))
    if name in CHOSEN:
        return CHOSEN[name]
    if "AllowedValues" in spec:
        return next(str(value) for value in spec["AllowedValues"] if str(value) != default)
    if spec["Type"] == "Number":
        low, high = float(spec.get("MinValue", "-inf")), float(spec.get("MaxValue", "inf"))
        if high - low <= 1:
            return str((low + high) / 2)
        return str(int(default) + 1 if int(default) + 1 <= high else int(default) - 1)
    for candidate in CANDIDATES:
        fits = len(candidate) <= int(spec.get("MaxLength", len(candidate)))
        if candidate != default and fits and re.fullmatch(spec.get("AllowedPattern", ".*"), candidate):
            return candidate
    pytest.fail(f"no valid value for {name} in CANDIDATES: add one")


CHANGES = {name: _another_value(name) for name in PARAMETERS}
NEW_CODE = {function: f"s3://packaged/{function}-new-code.zip" for function in FUNCTIONS}
DEFAULTS = {name: str(spec["Default"]) for name, spec in PARAMETERS.items() if "Default" in spec}
CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "defaults, again": {},
    "every default given": {"parameters": DEFAULTS},
    **{f"{name}={value}": {"parameters": {name: value}} for name, value in CHANGES.items()},
    **{f"new code of {function}": {"uris": {function: uri}} for function, uri in NEW_CODE.items()},
    **{f"new content of {layer}": {"uris": {layer: f"s3://packaged/{layer}-new.zip"}} for layer in LAYERS},
}


@cache
def _translations() -> dict[str, Any]:
    """Every case, translated once: in as many processes as there are CPUs (up to 4)."""
    if not SAM_PYTHON.exists():
        pytest.skip("the SAM CLI environment is not set up (make setup)")
    workers = max(1, min(4, os.cpu_count() or 1))
    names = list(CASES)
    batches = [{name: CASES[name] for name in names[i::workers]} for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(translate_many, batches))
    return {name: template for batch in results for name, template in batch.items()}


def versions(case: str) -> dict[str, tuple[str, str | None]]:
    """Per function: the version its `live` alias points at, and that version's Description as
    CloudFormation resolves it with the case's Parameter values."""
    translated = _translations()[case]
    assert "error" not in translated, f"{case}: {translated.get('error')}"
    stack = Stack(translated, overrides=CASES[case].get("parameters", {}))
    resources = translated["Resources"]
    found = {}
    for function in FUNCTIONS:
        alias = resources[f"{function}Aliaslive"]["Properties"]
        version_id, attribute = alias["FunctionVersion"]["Fn::GetAtt"]
        assert attribute == "Version"
        description = resources[version_id]["Properties"].get("Description")
        found[function] = (version_id, None if description is None else str(stack.resolve(description)))
    return found


def published_anew(case: str) -> set[str]:
    """The functions a deploy of `case` over a deploy of the defaults publishes a new version of."""
    before, after = versions("defaults"), versions(case)
    return {function for function in FUNCTIONS if after[function] != before[function]}


def test_a_deploy_with_the_same_parameters_publishes_nothing():
    assert published_anew("defaults, again") == set()
    assert published_anew("every default given") == set()


@pytest.mark.parametrize("name", sorted(PARAMETERS), ids=lambda name: f"{name}={CHANGES[name]}")
def test_a_parameter_publishes_exactly_the_functions_it_configures(name):
    configured = {function for function in FUNCTIONS if name in MADE_OF[function]}
    assert published_anew(f"{name}={CHANGES[name]}") == configured


@pytest.mark.parametrize("function", FUNCTIONS)
def test_new_code_publishes_its_function_only(function):
    assert published_anew(f"new code of {function}") == {function}


@pytest.mark.parametrize("layer", LAYERS)
def test_new_layer_content_publishes_every_function_using_it(layer):
    using = {f for f in FUNCTIONS if {"Ref": layer} in configuration(f).get("Layers", [])}
    assert using
    assert published_anew(f"new content of {layer}") == using


def test_each_translated_description_fits_and_names_the_values():
    for case in ("defaults", "SendGridCredentials=notifier/sendgrid"):
        for function, (_, description) in versions(case).items():
            assert description is not None, function
            assert len(description) <= DESCRIPTION_LIMIT, (case, function)
    assert "notifier/sendgrid" in str(versions("SendGridCredentials=notifier/sendgrid")["EmailFunction"][1])
