"""YAML loading that remembers where each key is and refuses duplicate keys.

PyYAML silently keeps the last of two equal keys; a scenario with ``threads`` twice
would then run something other than what its author read. We compose the node
tree first, record the line of every key path, and reject duplicates.
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


def _walk(node, path: Path_, lines: dict, problems: list):
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = path + (key,)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(YamlProblem(
                    f"{format_path(child)}: duplicate key (first at line {seen[key]})", line))
                continue
            seen[key] = line
            lines[child] = line
            _walk(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, problems)


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
    if node is None:
        return Document(None)
    lines: dict = {}
    problems: list[YamlProblem] = []
    _walk(node, (), lines, problems)
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
