"""Cut a vendor's full API description down to the operations the tests call.

The vendors publish one ~2 MB file for their whole API; the fakes need one or two operations of it.
This keeps those operations, every `$ref` target they reach (transitively, wherever it lives:
Swagger 2.0 `#/definitions`, `#/parameters`, `#/responses`, OpenAPI 3 `#/components/...`) and the
security schemes they name; everything else at the top level (`swagger`/`openapi`, `info`, `host`,
`basePath`, `servers`, `consumes`, ...) is copied as it is. Nothing kept is edited, descriptions
included (they are required in places, e.g. a Response object's, and the copy must stay a valid spec:
the script checks it with openapi-spec-validator before writing).

Run by hand from the repository root, e.g.

    .venv/bin/python devstack/fakes/vendor-specs/trim.py ~/vendor-specs/sendgrid-v3.oai.json \\
        devstack/fakes/vendor-specs/sendgrid-v3.mail-send.json 'POST /mail/send'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Where the parts that operations reach by `$ref` or by name live; rebuilt from what is reached.
REACHABLE_SECTIONS = frozenset({"paths", "definitions", "parameters", "responses", "components", "tags"})
SECURITY_SCHEMES = {"swagger": ("securityDefinitions",), "openapi": ("components", "securitySchemes")}


def trim(spec: dict[str, Any], operations: list[tuple[str, str]]) -> dict[str, Any]:
    """The spec with only `operations` (method, path) and what they reach."""
    out: dict[str, Any] = {key: value for key, value in spec.items() if key not in REACHABLE_SECTIONS}
    if "paths" in spec:
        out["paths"] = {}
    for method, path in operations:
        item = spec["paths"][path]
        if method not in item:
            raise SystemExit(f"{method.upper()} {path} is not in the spec")
        kept = out["paths"].setdefault(path, {k: v for k, v in item.items() if k not in HTTP_METHODS})
        kept[method] = item[method]

    _copy_security_schemes(spec, out)
    _copy_tags(spec, out)
    pending = list(_refs(out))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        value = _resolve(spec, ref)
        _place(out, ref, value)
        pending.extend(_refs(value))
    return out


def _copy_security_schemes(spec: dict[str, Any], out: dict[str, Any]) -> None:
    """Security schemes are named in `security`, not `$ref`'d: keep the ones the operations use."""
    location = SECURITY_SCHEMES["openapi" if "openapi" in spec else "swagger"]
    schemes = spec
    for key in location:
        schemes = schemes.get(key, {})
    requirements = list(spec.get("security", []))
    for item in out["paths"].values():
        for method in HTTP_METHODS & item.keys():
            requirements += item[method].get("security", [])
    names = {name for requirement in requirements for name in requirement}
    target = out
    for key in location[:-1]:
        target = target.setdefault(key, {})
    target[location[-1]] = {name: value for name, value in schemes.items() if name in names}


def _copy_tags(spec: dict[str, Any], out: dict[str, Any]) -> None:
    if "tags" not in spec:
        return
    operations = [item[method] for item in out["paths"].values() for method in HTTP_METHODS & item.keys()]
    used = {tag for operation in operations for tag in operation.get("tags", [])}
    out["tags"] = [tag for tag in spec["tags"] if tag["name"] in used]


def _refs(value: Any) -> list[str]:
    """Every local `$ref` inside `value`."""
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _pointer(ref: str) -> list[str]:
    if not ref.startswith("#/"):
        raise SystemExit(f"only local references are supported, not {ref!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/")]


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    value: Any = spec
    for part in _pointer(ref):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _place(out: dict[str, Any], ref: str, value: Any) -> None:
    """Put `value` at `ref` in `out`, creating the sections on the way."""
    *parents, name = _pointer(ref)
    target = out
    for part in parents:
        target = target.setdefault(part, {})
    target[name] = value


def _order_like(value: Any, source: Any) -> Any:
    """`value` with every mapping's keys in the source's order (stable diffs between runs)."""
    if not (isinstance(value, dict) and isinstance(source, dict)):
        return value
    return {key: _order_like(value[key], source[key]) for key in source if key in value}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="the vendor's full spec (JSON)")
    parser.add_argument("output", type=Path, help="where to write the trimmed copy")
    parser.add_argument("operations", nargs="+", help="operations to keep, as 'METHOD /path'")
    args = parser.parse_args()
    spec = json.loads(args.source.read_text(encoding="utf-8"))
    operations = [(op.split(" ", 1)[0].lower(), op.split(" ", 1)[1]) for op in args.operations]
    trimmed = _order_like(trim(spec, operations), spec)
    validate(trimmed)
    args.output.write_text(json.dumps(trimmed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.output}: {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
