"""YAML loading that remembers where each key is and refuses duplicate keys.

PyYAML silently keeps the last of two equal keys; a scenario with ``threads`` twice
would then run something other than what its author read. We compose the node
tree first, record the line of every key path, and reject duplicates.

Composing is cheap even for hostile text: an alias (``*name``) is one shared node.
Walking the tree (and validating the data) expands every alias, so nine levels of
nine aliases ("billion laughs") would mean 9**9 values. The walk counts what it
expands and stops at ``MAX_VALUES`` values or ``MAX_DEPTH`` levels of nesting, before
anything is constructed; a real scenario has a few hundred values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

Path_ = tuple  # a key path: ("kernels", 1, "k")


@dataclass
class Document:
    data: object
    lines: dict[Path_, int] = field(default_factory=dict)  # 1-based line per key path

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of ``path``."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


class YamlProblem(ValueError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def format_path(path: Path_) -> str:
    """("kernels", 1, "k") -> "kernels[1].k"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


MAX_VALUES = 100_000  # keys and values, aliases expanded
MAX_DEPTH = 64        # levels of nesting (the schema's deepest path has 4)


@dataclass
class _Budget:
    """How much of the document the walk has expanded, to stop an alias bomb early."""

    values: int = 0
    seen: set = field(default_factory=set)  # ids of nodes met once: met again = an alias
    alias_line: int | None = None  # where the outermost alias being expanded is used

    def spend(self, node, depth: int, line: int | None) -> None:
        self.values += 1
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep; a scenario "
                              f"needs a few", line)
        if self.values > MAX_VALUES:
            why = (" once its YAML aliases (*name) are expanded (an alias bomb?)"
                   if self.alias_line else "")
            raise YamlProblem(f"more than {MAX_VALUES} keys and values{why}; refusing to "
                              f"expand further", self.alias_line or line)


def _walk(node, path: Path_, lines: dict, problems: list, budget: _Budget, depth: int = 0):
    line = lines.get(path, node.start_mark.line + 1)  # an alias's node is its anchor's
    outermost_alias = id(node) in budget.seen and budget.alias_line is None
    if outermost_alias:
        budget.alias_line = line
    budget.seen.add(id(node))
    budget.spend(node, depth, budget.alias_line or line)
    try:
        _walk_children(node, path, lines, problems, budget, depth)
    finally:
        if outermost_alias:
            budget.alias_line = None


def _walk_children(node, path: Path_, lines: dict, problems: list, budget: _Budget,
                   depth: int):
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            # str() of a non-scalar key node would expand it whole: name its kind instead
            key = (key_node.value if isinstance(key_node, yaml.ScalarNode)
                   else f"({type(key_node).__name__.removesuffix('Node').lower()} as a key)")
            child = path + (key,)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(YamlProblem(
                    f"{format_path(child)}: duplicate key (first at line {seen[key]})", line))
                continue
            seen[key] = line
            lines[child] = line
            budget.spend(key_node, depth + 1, line)
            _walk(value_node, child, lines, problems, budget, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            # An alias item's node is its anchor's, elsewhere: use the sequence's line.
            shared = id(item) in budget.seen
            lines[path + (i,)] = lines.get(path) if shared else item.start_mark.line + 1
            _walk(item, path + (i,), lines, problems, budget, depth + 1)


def load_yaml(text: str) -> Document:
    """Parse YAML text; raise YamlProblem(s) for syntax errors and duplicate keys.

    Several duplicate keys raise one YamlProblem whose ``problems`` lists them all.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(f"YAML syntax error: {problem}",
                          mark.line + 1 if mark else None) from None
    except RecursionError:  # PyYAML's composer recurses once per level of nesting
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep; a scenario needs "
                          f"a few", None) from None
    if node is None:
        return Document(None)
    lines: dict = {}
    problems: list[YamlProblem] = []
    _walk(node, (), lines, problems, _Budget())
    if problems:
        err = YamlProblem(str(problems[0]), problems[0].line)
        err.problems = problems
        raise err
    try:
        data = yaml.SafeLoader(text).get_single_data()
    except yaml.YAMLError as exc:  # e.g. a bad !!tag that composes but will not construct
        mark = getattr(exc, "problem_mark", None)
        raise YamlProblem(f"YAML error: {getattr(exc, 'problem', exc)}",
                          mark.line + 1 if mark else None) from None
    return Document(data, lines)
