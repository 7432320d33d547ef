"""Where things are in a YAML file: line numbers for the errors of the hub's data files.

The hub's configuration is data (topics, rules, the SLA policy, the calendar overrides); an error
in one of them names the file and the line, so an operator can fix it without guessing. These
helpers walk PyYAML's node tree (``yaml.compose``), which keeps every node's position.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

__all__ = ["child", "key_line", "line_of", "locate"]


def line_of(node: yaml.Node | None) -> int:
    """The 1-based line a node starts on (1 for no node)."""
    return node.start_mark.line + 1 if node is not None else 1


def child(node: yaml.Node, key: str | int) -> yaml.Node | None:
    """The value node under ``key`` of a mapping, or the item ``key`` of a sequence. Mapping keys
    are compared as written (a pydantic location's ``2027`` is looked up as ``"2027"`` by the
    caller when it means a mapping key)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                found: yaml.Node = value_node
                return found
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        item: yaml.Node = node.value[key]
        return item
    return None


def key_line(node: yaml.Node, key: str | int) -> int | None:
    """The line of ``key`` in a mapping (of the item, in a sequence); None when absent."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return line_of(key_node)
    found = child(node, key)
    return line_of(found) if found is not None else None


def locate(node: yaml.Node, loc: Sequence[str | int]) -> int:
    """The line of ``loc`` (a pydantic error location) under ``node``; ``node``'s own line when
    the path is not in the file (a missing key, or a value that came from defaults)."""
    line = line_of(node)
    current: yaml.Node | None = node
    for part in loc:
        found = key_line(current, part) if current is not None else None
        if current is None or found is None:
            return line_of(node)
        line = found
        current = child(current, part)
    return line
