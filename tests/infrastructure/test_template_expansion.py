"""What template.yaml deploys stays what it deployed before the template was written more compactly.

tests/data/translated-stack.json is the stack SAM's translator made of the template (default
Parameters, code as after `sam package`) before its repetition was folded into YAML aliases. The
template is translated again here, as CloudFormation's transform would at deploy, and must give the
same logical ids, types, properties, Outputs and Parameters. A deliberate change to what the stack
deploys updates that file in the same commit, so the review shows the change as CloudFormation sees it:

    .tools/sam/bin/python tests/tools/sam_translate.py template.yaml \\
      | python3 -m json.tool --sort-keys --indent 1 > tests/data/translated-stack.json

The template does not use AWS::LanguageExtensions (Fn::ForEach): that transform resolves Parameter
references before SAM's runs, which changes logical ids (the API stage's, among others), and checkov
does not scan what an Fn::ForEach generates. It shares what repeats through YAML anchors and aliases,
which every tool reads as written out in full; not through merge keys (`<<:`), which checkov cannot
parse when a key is overridden and which CloudFormation itself does not accept.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from devstack.template import REPO_ROOT, TEMPLATE_PATH, load_template
from tests.tools.translation import translated as _translated

GOLDEN = REPO_ROOT / "tests" / "data" / "translated-stack.json"


@cache
def _golden() -> dict[str, Any]:
    golden: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return golden


def test_the_same_resources_are_created():
    assert sorted(_translated()["Resources"]) == sorted(_golden()["Resources"])


@pytest.mark.parametrize("logical_id", sorted(_golden()["Resources"]))
def test_each_resource_keeps_its_type_and_properties(logical_id):
    # Deep equality, list order included: nothing in the template was reordered.
    resource = _translated()["Resources"].get(logical_id)
    expected = _golden()["Resources"][logical_id]
    assert resource is not None, f"{logical_id} is no longer created"
    assert resource["Type"] == expected["Type"]
    assert resource.get("Properties") == expected.get("Properties")
    assert resource == expected  # Condition, DependsOn, Metadata, DeletionPolicy as well


@pytest.mark.parametrize("section", ["Outputs", "Parameters", "Conditions", "Rules", "Metadata"])
def test_the_other_sections_are_unchanged(section):
    assert _translated().get(section) == _golden().get(section)


def test_the_translation_is_the_whole_golden_stack():
    assert _translated() == _golden()


def test_the_template_uses_no_merge_keys_and_no_language_extensions():
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert not re.search(r"^\s*<<\s*:", text, re.MULTILINE), "checkov cannot parse YAML merge keys"
    load_template()  # which refuses the transform and Fn::ForEach, naming them


def test_the_local_stack_reads_every_alias_as_a_copy_of_its_own():
    template = load_template()
    seen: dict[int, str] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict | list):
            assert id(node) not in seen, f"{where} is the same object as {seen[id(node)]}"
            seen[id(node)] = where
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                walk(value, f"{where}/{key}")

    walk(template, "")
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert len({id(f["Metadata"]["checkov"]) for f in functions}) == len(functions)
