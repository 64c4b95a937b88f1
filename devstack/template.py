"""Reading `template.yaml`: CloudFormation's YAML tags, Parameters, Globals and intrinsic functions.

Tests and the local stack build everything from the template through this module, so they cannot
drift from what `sam deploy` creates. Only the intrinsics the project's template uses are resolved;
anything else raises `TemplateError` naming it, rather than being guessed.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

_SHORT_TAGS = {
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Cidr": "Fn::Cidr",
}


DEFAULT_STACK_NAME = "notifier"


def physical_name(stack_name: str, logical_id: str) -> str:
    """The name a resource without one of its own is given in the emulator: `<stack>-<logical id>`."""
    return f"{stack_name}-{logical_id}"


class TemplateError(ValueError):
    """The template uses something this module does not know how to resolve."""


class CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader with CloudFormation's short tags; libyaml's parser where PyYAML has it (the
    template is read in 25 ms rather than 200)."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {tag: value}

    return build


CfnLoader.add_constructor("!Ref", _construct("Ref"))
CfnLoader.add_constructor("!Condition", _construct("Condition"))
for _short, _long in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_short}", _construct(_long))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as data, each node its own object: YAML's aliases (`*name`), which the template uses
    for what every function, queue or alarm shares, would otherwise give several resources one object,
    so changing one would change them all. Each call gets its own copy, so a caller may change it."""
    state = path.stat()
    loaded = _parsed(path.resolve(), state.st_mtime_ns, state.st_size)
    _refuse_language_extensions(loaded)
    return cast(dict[str, Any], _unshared(loaded))


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """One parse of each state of a file (its modification time and size): tests, the bench and the
    local stack read the same template many times."""
    with path.open(encoding="utf-8") as stream:
        return cast(dict[str, Any], yaml.load(stream, Loader=CfnLoader))  # noqa: S506 - a safe loader


def _unshared(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _unshared(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_unshared(item) for item in node]
    return node


def _refuse_language_extensions(template: dict[str, Any]) -> None:
    """The local stack does not expand AWS::LanguageExtensions (Fn::ForEach and the rest): it would
    read a loop as a resource named `Fn::ForEach::...`, so it stops instead, naming what it met."""
    transform = template.get("Transform", [])
    if "AWS::LanguageExtensions" in ([transform] if isinstance(transform, str) else transform):
        raise TemplateError("the AWS::LanguageExtensions transform is not supported by the local stack")
    for section in ("Conditions", "Resources", "Outputs"):
        loops = [key for key in template.get(section) or {} if key.startswith("Fn::ForEach::")]
        if loops:
            raise TemplateError(f"{section}: {', '.join(loops)} is not supported by the local stack")


def parse_overrides(text: str | list[str] | None) -> dict[str, str]:
    """`Key=Value Key2=Value2` or `ParameterKey=K,ParameterValue=V`, as sam deploy takes them."""
    if not text:
        return {}
    items = text.split() if isinstance(text, str) else [p for part in text for p in part.split()]
    overrides: dict[str, str] = {}
    for item in items:
        long_form = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item)
        if long_form:
            overrides[long_form.group(1)] = long_form.group(2)
        elif "=" in item:
            key, value = item.split("=", 1)
            overrides[key] = value
        else:
            raise TemplateError(f"parameter override {item!r} is not Key=Value")
    return overrides


SAMCONFIG_PATH = REPO_ROOT / "samconfig.toml"


def profile_overrides(name: str, path: Path = SAMCONFIG_PATH) -> dict[str, str]:
    """The parameter overrides of a samconfig.toml environment (`[name.deploy.parameters]`), so the
    local stack runs the same profile `sam deploy --config-env name` deploys."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    environments = sorted(k for k, v in config.items() if isinstance(v, dict))
    if name not in config:
        raise TemplateError(f"no profile {name!r} in {path.name}; there are: {', '.join(environments)}")
    parameters = config[name].get("deploy", {}).get("parameters", {})
    return parse_overrides(parameters.get("parameter_overrides"))


_NO_VALUE = object()


@dataclass
class Stack:
    """A template with its parameters chosen, and what has been created for it so far.

    `refs` holds what `Ref` of a resource gives, `attrs` what `Fn::GetAtt` gives; the provisioner
    fills them in as it creates resources.
    """

    template: dict[str, Any]
    name: str = DEFAULT_STACK_NAME
    region: str = "us-east-1"
    account_id: str = "123456789012"
    overrides: Mapping[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        unknown = set(self.overrides) - set(declared)
        if unknown:
            raise TemplateError(
                f"unknown parameter(s) {sorted(unknown)}; the template declares {sorted(declared)}"
            )
        self.parameters: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.overrides:
                value = self.overrides[name]
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no default; give it as {name}=<value>")
            _check_parameter(name, spec, value)
            self.parameters[name] = value

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.template["Resources"])

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with the template's Globals merged in, as SAM merges them."""
        merged: dict[str, Any] = copy.deepcopy(self.template.get("Globals", {}).get("Function", {}))
        _merge(merged, copy.deepcopy(self.resources[logical_id].get("Properties", {})))
        return merged

    def physical_name(self, logical_id: str) -> str:
        return physical_name(self.name, logical_id)

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.name}/local",
        }
        if name not in values:
            raise TemplateError(f"pseudo parameter {name} is not supported")
        return values[name]

    # ------------------------------------------------------------------ intrinsics

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic function replaced by its value."""
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        return {k: r for k, v in node.items() if (r := self.resolve(v)) is not _NO_VALUE}

    def dependencies(self, node: Any) -> set[str]:
        """The resources `node` refers to."""
        found: set[str] = set()
        if isinstance(node, list):
            for item in node:
                found |= self.dependencies(item)
        elif isinstance(node, dict):
            for key, arg in node.items():
                if key == "Ref" and isinstance(arg, str) and arg in self.resources:
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    found.add(arg[0])
                elif key == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        base = name.split(".")[0]
                        if base in self.resources:
                            found.add(base)
                    if not isinstance(arg, str):
                        found |= self.dependencies(arg[1])
                else:
                    found |= self.dependencies(arg)
        return found

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref {name}: not a parameter, and no such resource has been created")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attrs[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available") from None

    def _function(self, name: str, arg: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic
        match name:
            case "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(logical_id, attribute)
            case "Fn::Sub":
                return self._sub(arg)
            case "Fn::Join":
                delimiter, values = arg
                return str(delimiter).join(str(v) for v in self.resolve(values))
            case "Fn::Select":
                index, values = self.resolve(arg)
                return values[int(index)]
            case "Fn::Split":
                delimiter, text = self.resolve(arg)
                return str(text).split(delimiter)
            case "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
            case "Fn::FindInMap":
                return self._find_in_map(*(str(part) for part in self.resolve(arg)))
        raise TemplateError(f"{name} is not supported by the local stack")

    def _find_in_map(self, mapping: str, key: str, attribute: str) -> Any:
        try:
            return self.template["Mappings"][mapping][key][attribute]
        except KeyError:
            raise TemplateError(f"Fn::FindInMap {mapping}.{key}.{attribute}: no such value") from None

    def condition(self, name: str | None) -> bool:
        """Whether the named condition holds; a resource without a Condition (None) always exists."""
        if name is None:
            return True
        return self._evaluate(self.template.get("Conditions", {})[name])

    def _evaluate(self, node: Any) -> bool:
        ((key, arg),) = node.items()
        match key:
            case "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            case "Fn::Not":
                return not self._evaluate(arg[0])
            case "Fn::And":
                return all(self._evaluate(item) for item in arg)
            case "Fn::Or":
                return any(self._evaluate(item) for item in arg)
            case "Condition":
                return self.condition(arg)
        raise TemplateError(f"condition function {key} is not supported")

    def _sub(self, arg: str | list[Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".")[0] in self.resources:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif isinstance(value, list) and isinstance(base.get(key), list) and key == "Layers":
            base[key] = base[key] + value
        else:
            base[key] = value


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}={value!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}={value} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}={value} is above its MaxValue {spec['MaxValue']}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
