"""Bounded YAML: the one loader of scenario, preset and run-config files and of KEY=VALUE override values.

``yaml.safe_load`` builds a document of a few kilobytes whose aliases expand to billions of values (an
"alias bomb": a 1.9 KB file gave a 2 GiB error line and 8.4 GB of memory when the result was printed or
copied). :func:`safe_load` refuses, with one line, a text longer than ``max_bytes``, nesting deeper than
:data:`MAX_DEPTH` and a document that expands to more than ``max_nodes`` values (each alias counted every time
it is used, so the expanded size is checked on the node graph before anything is built), and recursive
aliases. Syntax errors stay ``yaml.YAMLError`` (callers word them). Imports PyYAML and the standard library.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20
"""Largest YAML text accepted (1 MiB): scenario, preset and run-config files are a few KB."""
MAX_NODES = 100_000
"""Largest number of values a document may expand to (aliases counted each time they are used)."""
MAX_DEPTH = 64
"""Deepest nesting of lists / mappings accepted."""

class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, reading exponent floats without a dot as floats (``1e-3``: YAML 1.2; PyYAML's YAML 1.1
    rules read it as the string '1e-3', so ``hp.learning_rate=1e-3`` was refused as not a number)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


class YamlLimitError(ValueError):
    """A YAML text over a size, nesting or alias-expansion bound (the message is one line naming the source)."""


def safe_load(text: str | bytes, source: str = "<yaml>", *, max_bytes: int = MAX_BYTES,
              max_nodes: int = MAX_NODES) -> Any:
    """``yaml.safe_load(text)`` within the bounds above (:class:`YamlLimitError` otherwise)."""
    if len(text) > max_bytes:
        raise YamlLimitError(f"{source}: {len(text):,} bytes of YAML; expected at most {max_bytes:,} bytes")
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(f"{source}: YAML nested too deeply; expected at most {MAX_DEPTH} levels") from None
        if node is None:
            return None
        _check_size(node, source, max_nodes)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Any:
    """:func:`safe_load` of a file, refusing a file over `max_bytes` before reading it (OSError if unreadable)."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlLimitError(f"{path}: {size:,} bytes of YAML; expected at most {max_bytes:,} bytes")
    return safe_load(path.read_text(), str(path), max_bytes=max_bytes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_size(root: yaml.Node, source: str, max_nodes: int) -> None:
    """Expanded size of the node graph (memoised per node, iterative): over `max_nodes`, deeper than
    MAX_DEPTH or recursive is a YamlLimitError."""
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack[-1]
        key = id(node)
        if key in size:
            stack.pop()
            continue
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"{source}: YAML nested deeper than {MAX_DEPTH} levels; expected a flat "
                                 "scenario or preset file")
        kids = _children(node)
        pending = [k for k in kids if id(k) not in size]
        if pending and key not in active:
            active.add(key)
            for k in pending:
                if id(k) in active:
                    raise YamlLimitError(f"{source}: a recursive YAML alias (a value that contains itself); "
                                         "expected plain values")
                stack.append((k, depth + 1))
            continue
        if pending:  # revisited with children still open: a cycle through them
            raise YamlLimitError(f"{source}: a recursive YAML alias (a value that contains itself); expected "
                                 "plain values")
        total = 1 + sum(size[id(k)] for k in kids)
        if total > max_nodes:
            raise YamlLimitError(f"{source}: the YAML expands to more than {max_nodes:,} values (aliases are counted "
                                 "each time they are used: an alias bomb?); expected a small scenario or preset file")
        size[key] = total
        active.discard(key)
        stack.pop()
