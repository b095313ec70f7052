"""Spec paths such as `model.layers[0].units`: parse them and set a value at one in a nested spec dict."""

from __future__ import annotations

import copy
import re
from typing import Any

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse(path: str) -> list[str | int]:
    """`model.layers[0].units` -> ["model", "layers", 0, "units"]; ValueError if it is not such a path."""
    keys: list[str | int] = []
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ValueError(f"{path!r} is not a spec path like 'optimizer.learning_rate' or 'model.layers[0].units'")
        keys.append(match.group(1))
        keys += [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
    return keys


def with_value(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `spec` with `value` at `path`. Missing dict levels are created (`regularization.l2` when the
    base has no regularization); a list index must exist. KeyError/IndexError/TypeError name what is wrong."""
    result = copy.deepcopy(spec)
    keys = parse(path)
    node: Any = result
    for key, next_key in zip(keys, keys[1:], strict=False):
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise IndexError(f"{path!r}: the base spec has no item {key} there")
            node = node[key]
        else:
            if not isinstance(node, dict):
                raise TypeError(f"{path!r}: {key!r} is not a field of a list")
            if node.get(key) is None:
                node[key] = [] if isinstance(next_key, int) else {}
            node = node[key]
    last = keys[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise IndexError(f"{path!r}: the base spec has no item {last} there")
    elif not isinstance(node, dict):
        raise TypeError(f"{path!r}: {last!r} is not a field of a list")
    node[last] = value
    return result
