"""Translate one template under many cases with SAM's translator, in one process (its import alone
takes most of a second; a translation about a tenth).

Runs in the SAM CLI's environment (.tools/sam), as sam_translate.py does, and prepares the template
the same way (local code folders become S3 URIs, as after `sam package`). Usage:

    sam_translate_many.py TEMPLATE < cases.json

cases.json: {"<case>": {"parameters": {"Key": "Value", ...}, "uris": {"<LogicalId>": "s3://..."}}};
"uris" sets a function's CodeUri or a layer's ContentUri, as a new upload would. Prints
{"<case>": <the CloudFormation template> or {"error": "<why the translator refused it>"}} as JSON.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from typing import Any

from sam_translate import _NoManagedPolicies  # same directory: python puts it first on sys.path
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


def _packaged(template: dict[str, Any], uris: dict[str, str]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in properties and logical_id in uris:
                properties[key] = uris[logical_id]
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged/{properties[key].strip('/')}.zip"
    return template


def main(argv: list[str]) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(argv[0], encoding="utf-8") as stream:
        template: dict[str, Any] = yaml_parse(stream.read())
    cases: dict[str, dict[str, Any]] = json.load(sys.stdin)
    answers: dict[str, Any] = {}
    for name, case in cases.items():
        packaged = _packaged(template, case.get("uris", {}))
        try:
            answers[name] = transform(packaged, dict(case.get("parameters", {})), _NoManagedPolicies())
        except Exception as exc:  # reported to the test, which fails on it
            answers[name] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
