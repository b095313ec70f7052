"""Shared checks of uploaded arrays, each failing with a 422 that says where in the file the problem is.

Rows count from 0 and exclude a CSV's header line, the same convention as inline datasets and JSON `loc`s.
"""

from __future__ import annotations

import reprlib

import numpy as np

from app.errors import InvalidUpload

MAX_REPORTED = 20  # a broken file can have thousands of bad cells; the first few per column say enough


def rejected(msg: str, *loc: str | int) -> InvalidUpload:
    """A 422 whose single error points into the uploaded file."""
    return InvalidUpload(msg, errors=[{"loc": ["file", *loc], "msg": msg}])


def rejected_all(messages: list[tuple[str, list[str | int]]]) -> InvalidUpload:
    """A 422 listing several problems at once, so that one fix round trip suffices."""
    kept = messages[:MAX_REPORTED]
    detail = "; ".join(msg for msg, _loc in kept)
    if len(messages) > len(kept):
        detail += f"; and {len(messages) - len(kept)} more"
    return InvalidUpload(detail, errors=[{"loc": ["file", *loc], "msg": msg} for msg, loc in kept])


def quoted(value: object) -> str:
    """A value as a message quotes it, cut short: a hostile file's cell may hold megabytes."""
    shown = reprlib.Repr()
    shown.maxstring = 80
    return shown.repr(value.item() if isinstance(value, np.generic) else value)


def describe_value(value: float) -> str:
    if np.isnan(value):
        return "a missing value (NaN)"
    return "inf" if value > 0 else "-inf"


def nonfinite_columns(x: np.ndarray, columns: list[str]) -> InvalidUpload | None:
    """The error naming, for each column of the 2-D `x` that holds NaN or ±inf, its first such row."""
    bad = ~np.isfinite(x)
    problems: list[tuple[str, list[str | int]]] = []
    for index in np.flatnonzero(bad.any(axis=0)):
        row = int(np.argmax(bad[:, index]))
        value = describe_value(float(x[row, index]))
        problems.append((f"feature column {columns[index]!r} holds {value} in row {row}", [columns[index], row]))
    return rejected_all(problems) if problems else None


def check_finite_array(array: np.ndarray, what: str) -> None:
    """Refuse NaN or ±inf anywhere in `array`, naming the first row and the element's full index."""
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        index = [int(i) for i in bad[0]]
        value = describe_value(float(array[tuple(index)]))
        raise rejected(f"array {what!r} holds {value} in row {index[0]} (at index {index})", what, index[0])
