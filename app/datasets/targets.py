"""Targets of an upload: classification or regression, and class labels encoded as indices with their names.

The default rule, which the upload's `task` field overrides: strings, booleans and categories mean
classification; integers mean classification when they take at most `MAX_DEFAULT_CLASSES` distinct values
(more are likely counts or prices, so regression); floats mean regression even when every value is whole,
because a file that writes `1.0` presents the number as a measurement. Class names are sorted (numbers
numerically, strings lexicographically) and a label's index is its position in that list.
"""

from __future__ import annotations

import numpy as np

from app.datasets.checks import describe_value, rejected
from app.datasets.types import Task

MAX_DEFAULT_CLASSES = 50


def infer_task(values: np.ndarray) -> Task:
    kind = values.dtype.kind
    if kind == "f":
        return "regression"
    if kind in "iu":
        return "classification" if np.unique(values).size <= MAX_DEFAULT_CLASSES else "regression"
    return "classification"


def encode_targets(
    values: np.ndarray, task: Task | None, label: str, loc: str
) -> tuple[np.ndarray, Task, list[str] | None]:
    """(y, task, classes): float32 targets for regression, int64 class indices plus label names otherwise.

    `label` names the targets in messages (e.g. "target column 'species'"), `loc` in error locations.
    """
    task = task or infer_task(values)
    if task == "regression":
        return _regression_targets(values, label, loc), task, None
    y, classes = _class_indices(values, label, loc)
    return y, task, classes


def _regression_targets(values: np.ndarray, label: str, loc: str) -> np.ndarray:
    try:
        y = values.astype(np.float32)
    except (ValueError, TypeError) as exc:
        row = _first_non_number(values)
        msg = f"{label} must hold numbers for regression; row {row} holds {values[row]!r}"
        raise rejected(msg, loc, row) from exc
    bad = np.argwhere(~np.isfinite(y))
    if bad.size:
        row = int(bad[0][0])
        value = describe_value(float(y[tuple(bad[0])]))
        raise rejected(f"{label} holds {value} in row {row}", loc, row)
    return y


def _first_non_number(values: np.ndarray) -> int:
    for row, value in enumerate(values.reshape(len(values), -1)):
        try:
            value.astype(np.float32)
        except (ValueError, TypeError):
            return row
    return 0


def _class_indices(values: np.ndarray, label: str, loc: str) -> tuple[np.ndarray, list[str]]:
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise rejected(f"{label} must hold one class label per row; got shape {list(values.shape)}", loc)
    values = _comparable_labels(values, label, loc)
    names, indices = np.unique(values, return_inverse=True)
    return indices.reshape(-1).astype(np.int64), [str(name) for name in names]


def _comparable_labels(values: np.ndarray, label: str, loc: str) -> np.ndarray:
    """Labels of one sortable dtype whose `str()` is the name a client sees: 3.0 becomes 3, b'cat' becomes cat."""
    kind = values.dtype.kind
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            raise rejected(f"{label} holds {describe_value(float(values[row]))} in row {row}", loc, row)
        whole = np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53)
        return values.astype(np.int64) if whole else values
    if kind == "S":
        try:
            return np.char.decode(values, "utf-8")
        except UnicodeDecodeError as exc:
            raise rejected(f"{label} holds byte strings that are not UTF-8 text", loc) from exc
    return values  # an object array holds `str` labels (tables make it so): never widened to fixed width
