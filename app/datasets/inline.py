"""Inline datasets: small `{"x": [[...]], "y": [...]}` payloads carried inside the training spec.

JSON lets any cell be null, a string, an object or a list of another length. Each of those is a 422 naming the
first row that holds it, found by walking the rows only once numpy has refused the whole, so that valid data
stays one conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.datasets.checks import quoted
from app.datasets.types import Dataset, Task
from app.errors import InvalidSpec

NUMBER_KINDS = "biuf"
LABEL_KINDS = "biufU"
WANTED = {"x": "x must hold numbers only", "y": "y must hold numbers, strings or booleans"}


def _invalid(msg: str, *loc: str | int) -> InvalidSpec:
    return InvalidSpec(msg, errors=[{"loc": ["dataset", "inline", *loc], "msg": msg}])


def load_inline(x: Any, y: Any, task: Task | None = None) -> Dataset:
    """Arrays from nested lists. Labels that are strings, booleans or integers mean classification."""
    features = _features(x)
    targets = _array(y, "y", LABEL_KINDS)
    if targets.shape[0] != features.shape[0]:
        raise _invalid(f"y has {targets.shape[0]} rows but x has {features.shape[0]}", "y")
    task = task or ("regression" if targets.dtype.kind == "f" else "classification")
    if task == "regression":
        return Dataset("inline", features, _regression_targets(targets), "regression", None)
    if targets.ndim != 1:
        raise _invalid("classification labels must be a flat list, one label per row", "y")
    labels, encoded = np.unique(targets, return_inverse=True)
    return Dataset("inline", features, encoded.astype(np.int64), "classification", [str(v) for v in labels])


def _features(x: list[Any]) -> np.ndarray:
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, reported below
        features = _array(x, "x", NUMBER_KINDS).astype(np.float32)
    if features.ndim < 2 or features.shape[0] == 0:
        raise _invalid(f"x must hold at least one row of features; got shape {list(features.shape)}", "x")
    if not np.isfinite(features).all():
        row = int(np.argwhere(~np.isfinite(features))[0][0])
        raise _invalid(f"x has a NaN or infinite value in row {row}", "x", row)
    return features


def _regression_targets(targets: np.ndarray) -> np.ndarray:
    try:
        values = targets.astype(np.float32)
    except ValueError as exc:
        row = next((i for i, value in enumerate(targets.reshape(len(targets), -1)) if not _parses(value)), 0)
        msg = f"regression targets must be numbers; y row {row} holds {quoted(targets[row])}"
        raise _invalid(msg, "y", row) from exc
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row = int(bad[0][0])
        raise _invalid(f"regression targets must be finite; y row {row} holds {values[tuple(bad[0])]}", "y", row)
    return values


def _parses(values: np.ndarray) -> bool:
    try:
        values.astype(np.float32)
    except ValueError:
        return False
    return True


def _array(rows: list[Any], name: str, kinds: str) -> np.ndarray:
    """`rows` as one array of the given dtype kinds; else a 422 naming the first row at fault."""
    try:
        array = np.asarray(rows)
    except ValueError as exc:  # ragged
        raise _first_bad_row(rows, name) or _invalid(f"{WANTED[name]} in rows of one shape ({exc})", name) from exc
    if array.dtype.kind in kinds:
        return array
    problem = _first_bad_row(rows, name)
    if problem is not None:
        raise problem
    return array  # Python integers too large for int64: numbers all the same


def _first_bad_row(rows: list[Any], name: str) -> InvalidSpec | None:
    """The first row that holds something other than numbers (or, in y, a string label), or whose shape is not
    row 0's."""
    expected: tuple[int, ...] | None = None
    for index, row in enumerate(rows):
        bad = None if name == "y" and isinstance(row, str) else _non_number(row)
        if bad is not None:
            return _invalid(f"{name} row {index} holds {bad}; {WANTED[name]}", name, index)
        try:
            shape = np.shape(row)
        except ValueError:
            return _invalid(f"{name} row {index} is ragged: its lists differ in length", name, index)
        expected = shape if expected is None else expected
        if shape != expected:
            msg = f"{name} row {index} has shape {list(shape)} but row 0 has shape {list(expected)}"
            return _invalid(msg, name, index)
    return None


def _non_number(value: Any) -> str | None:
    """What the first cell in `value` (a number or nested lists) that is no number is, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is None:
            return "null"
        elif isinstance(item, str):
            return f"the string {quoted(item)}"
        elif not isinstance(item, bool | int | float):
            return "an object" if isinstance(item, dict) else f"a {type(item).__name__}"
    return None
