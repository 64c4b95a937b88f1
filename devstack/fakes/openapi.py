"""Checking requests against the vendors' own API descriptions.

The descriptions are trimmed copies in `devstack/fakes/vendor-specs/` (see its README for where they come
from and how they were cut). Both checkers are jsonschema validators over the spec's own schemas, with
the whole spec registered so that `#/definitions/...` and `#/components/...` references resolve:

- `SwaggerBodyChecker`: a Swagger 2.0 (SendGrid) `in: body` parameter, with the Draft 4 validator
  (Swagger 2.0 schemas are a draft-4 dialect whose extra keywords are annotations).
- `FormOperationChecker`: an OpenAPI 3.0 (Twilio) operation with a form-urlencoded body: its path
  parameters, and the form, first cast to the types the schema gives each field the way OpenAPI's
  default form encoding (style form, explode) means it (`true` a boolean, `3` an integer, an array as
  repeated keys), then validated with openapi-schema-validator's OAS 3.0 validator (`nullable`,
  `readOnly`...). openapi-core does the same (`tests/functional/test_vendor_fakes.py` checks the two
  agree), but at about 6 ms of CPU a request, which a fake serving benchmarks from the benchmark's
  own process cannot spend: this is some twenty times cheaper.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from devstack.fakes._server import FORM, RecordedRequest

SPEC_DIR = Path(__file__).resolve().parent / "vendor-specs"
_SPEC_URI = "urn:vendor-spec"
# The texts openapi-core reads as booleans (the SDKs send `true` and `false`).
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


def load_spec(filename: str) -> dict[str, Any]:
    """A fresh copy of a trimmed spec (a fake may patch documented errata into its own copy)."""
    spec: dict[str, Any] = json.loads((SPEC_DIR / filename).read_text(encoding="utf-8"))
    return spec


def body_parameter(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """A Swagger 2.0 operation's `in: body` parameter."""
    [parameter] = [p for p in spec["paths"][path][method]["parameters"] if p.get("in") == "body"]
    return parameter  # type: ignore[no-any-return]


class SwaggerBodyChecker:
    """A Swagger 2.0 operation's body parameter (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], method: str, path: str) -> None:
        index = spec["paths"][path][method]["parameters"].index(body_parameter(spec, method, path))
        registry: Registry[Any] = Registry().with_resource(_SPEC_URI, DRAFT4.create_resource(spec))
        self._validator = Draft4Validator(
            {"$ref": f"{_SPEC_URI}#/paths/{_escape(path)}/{method}/parameters/{index}/schema"},
            registry=registry,
            # SendGrid refuses malformed addresses, and the spec marks them `format: email`.
            format_checker=Draft4Validator.FORMAT_CHECKER,
        )

    def errors(self, body: Any) -> list[tuple[str | None, str]]:
        """(field, message) for each way `body` breaks the schema; the field is dotted, like
        SendGrid's own (`personalizations.0.to`), or None for the body itself."""
        return [(_dotted(e) or None, e.message) for e in _sorted(self._validator.iter_errors(body))]


class FormOperationChecker:
    """An OpenAPI 3.0 operation whose body is form-urlencoded (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], method: str, path: str) -> None:
        item = spec["paths"][path]
        operation = item[method]
        self.body_schema: dict[str, Any] = operation["requestBody"]["content"][FORM]["schema"]
        registry: Registry[Any] = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4)
        )

        def validator(pointer: str) -> OAS30WriteValidator:
            return OAS30WriteValidator(
                {"$ref": f"{_SPEC_URI}#/{pointer}"}, registry=registry, format_checker=oas30_format_checker
            )

        base = f"paths/{_escape(path)}"
        # Path-level parameters first, so the operation's own override them (OpenAPI's rule).
        self._path_parameters = {
            parameter["name"]: validator(f"{where}/parameters/{index}/schema")
            for where, owner in ((base, item), (f"{base}/{method}", operation))
            for index, parameter in enumerate(owner.get("parameters", []))
            if parameter["in"] == "path"
        }
        self._body = validator(f"{base}/{method}/requestBody/content/{_escape(FORM)}/schema")
        self._path = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        self._fields = {name: _resolve(spec, s) for name, s in self.body_schema.get("properties", {}).items()}

    def errors(self, request: RecordedRequest) -> list[str]:
        """How the request's path and form break the spec."""
        match = self._path.match(request.path)
        if match is None:
            return [f"the path does not match {self._path.pattern}"]
        problems = [
            f"path parameter {name}: {e.message}"
            for name, validator in self._path_parameters.items()
            for e in validator.iter_errors(match[name])
        ]
        body = {name: self._cast(name, values) for name, values in (request.form or {}).items()}
        return problems + [
            f"body: {_dotted(e)}: {e.message}" if e.absolute_path else f"body: {e.message}"
            for e in _sorted(self._body.iter_errors(body))
        ]

    def _cast(self, name: str, values: list[str]) -> Any:
        schema = self._fields.get(name, {})
        if schema.get("type") == "array":
            return [_cast_text(value, schema.get("items", {})) for value in values]
        # A field that is not an array, sent twice, stays a list: for the schema to refuse.
        return _cast_text(values[0], schema) if len(values) == 1 else values


def _cast_text(text: str, schema: dict[str, Any]) -> Any:
    """`text` as the schema's scalar type when it reads as one; else as it is, for the schema to refuse."""
    kind = schema.get("type")
    if kind == "boolean" and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    if kind == "integer" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return float(text)
    return text


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema, or what its local `$ref` points at."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    value: Any = spec
    for token in ref.removeprefix("#/").split("/"):
        value = value[token.replace("~1", "/").replace("~0", "~")]
    return value  # type: ignore[no-any-return]


def _sorted(errors: Any) -> list[ValidationError]:
    return sorted(errors, key=lambda e: e.json_path)


def _dotted(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _escape(token: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")
