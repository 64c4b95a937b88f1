"""Translate template.yaml with SAM's own translator, as CloudFormation's transform does at deploy.

Runs in the SAM CLI's environment (.tools/sam), which has `samtranslator`; the test environment does
not (its pins conflict). Usage: sam_translate.py TEMPLATE [Key=Value ...]; prints the CloudFormation
template as JSON. Local code folders become S3 URIs, as after `sam package`. Managed policies are
not looked up: the template gives every function its own role.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def main(argv: list[str]) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(argv[0], encoding="utf-8") as stream:
        template: dict[str, Any] = yaml_parse(stream.read())
    for resource in template.get("Resources", {}).values():  # what `sam package` does: code goes to S3
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged/{properties[key].strip('/')}.zip"
    parameters = dict(arg.split("=", 1) for arg in argv[1:])
    translated = transform(template, parameters, _NoManagedPolicies())
    json.dump(translated, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
