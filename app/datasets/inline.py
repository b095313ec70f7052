"""Inline datasets: small `{"x": [[...]], "y": [...]}` payloads carried inside the training spec."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.datasets.types import Dataset, Task
from app.errors import InvalidSpec


def _invalid(msg: str, *loc: str | int) -> InvalidSpec:
    return InvalidSpec(msg, errors=[{"loc": ["dataset", "inline", *loc], "msg": msg}])


def load_inline(x: Any, y: Any, task: Task | None = None) -> Dataset:
    """Arrays from nested lists. Labels that are strings, booleans or integers mean classification."""
    try:
        features = np.asarray(x, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise _invalid(f"x must be a rectangular array of numbers ({exc})", "x") from exc
    targets = np.asarray(y)
    if features.ndim < 2 or features.shape[0] == 0:
        raise _invalid(f"x must hold at least one row of features; got shape {list(features.shape)}", "x")
    if targets.shape[0] != features.shape[0]:
        raise _invalid(f"y has {targets.shape[0]} rows but x has {features.shape[0]}", "y")
    if not np.isfinite(features).all():
        row = int(np.argwhere(~np.isfinite(features))[0][0])
        raise _invalid(f"x has a NaN or infinite value in row {row}", "x", row)
    task = task or ("regression" if targets.dtype.kind == "f" else "classification")
    if task == "regression":
        try:
            values = targets.astype(np.float32)
        except (ValueError, TypeError) as exc:
            raise _invalid(f"regression targets must be numbers ({exc})", "y") from exc
        return Dataset("inline", features, values, "regression", None)
    if targets.ndim != 1:
        raise _invalid("classification labels must be a flat list, one label per row", "y")
    labels, encoded = np.unique(targets, return_inverse=True)
    return Dataset("inline", features, encoded.astype(np.int64), "classification", [str(v) for v in labels])
