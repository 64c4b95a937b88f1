"""What YAML can write once in template.yaml is written once.

A block that appears twice the same (a path's preflight, a dead-letter queue, a role's statement) is
given an anchor where it first appears and repeated by an alias, so that changing it changes every
copy. Blocks that differ only by a name (each channel's queues and alarms) cannot be: plain YAML
has no parameters, and the tools that could expand them are discussed in
test_template_expansion.py.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml

from devstack.template import TEMPLATE_PATH, CfnLoader

MIN_LINES = 5
"""The smallest block that must not be written twice: below that, an alias saves less than it hides."""


def _canonical(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, tuple(_canonical(item) for item in node.value))
    return (node.tag, tuple((_canonical(key), _canonical(value)) for key, value in node.value))


def written_twice(text: str, min_lines: int = MIN_LINES) -> list[list[int]]:
    """The first lines of each block of at least `min_lines` lines written out more than once (an
    alias is not written out: it is the node it names)."""
    seen: set[int] = set()
    places: dict[Any, list[yaml.Node]] = defaultdict(list)

    def visit(node: yaml.Node) -> None:
        if id(node) in seen:  # an alias: the same node again
            return
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return
        if node.end_mark.line - node.start_mark.line >= min_lines:
            places[_canonical(node)].append(node)
        children = node.value if isinstance(node, yaml.SequenceNode) else [value for _, value in node.value]
        for child in children:
            visit(child)

    visit(yaml.compose(text, Loader=CfnLoader))
    repeated = [nodes for nodes in places.values() if len(nodes) > 1]
    # Only the outermost: a repeated block's own parts repeat with it.
    inner = {id(n) for nodes in repeated for n in nodes if _inside_another(n, repeated)}
    return sorted(
        [[n.start_mark.line + 1 for n in nodes] for nodes in repeated if id(nodes[0]) not in inner],
    )


def _inside_another(node: yaml.Node, repeated: list[list[yaml.Node]]) -> bool:
    return any(
        other is not node
        and other.start_mark.index <= node.start_mark.index
        and node.end_mark.index <= other.end_mark.index
        for nodes in repeated
        for other in nodes
    )


def test_no_block_of_the_template_is_written_out_twice():
    assert written_twice(TEMPLATE_PATH.read_text(encoding="utf-8")) == []


def test_a_block_written_twice_is_found_and_one_aliased_is_not():
    block = "    Type: AWS::SQS::Queue\n    Properties:\n      A: 1\n      B: 2\n      C: 3\n      D: 4\n"
    twice = f"Resources:\n  One:\n{block}  Two:\n{block}"
    aliased = "Resources:\n  One: &queue\n" + block + "  Two: *queue\n"

    assert written_twice(twice) == [[3, 10]]
    assert written_twice(aliased) == []
