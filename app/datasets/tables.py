"""Table uploads (CSV here; Parquet's footer checks in `parquet`): one column (`target`) holds the labels, every
other column is a numeric feature.

Feature columns must hold numbers (booleans count as 0 and 1) that are finite; each problem names the column and
the first row where it shows, for all columns at once, so that a file can be fixed in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from app.datasets.checks import nonfinite_columns, quoted, rejected, rejected_all
from app.datasets.formats import ParsedUpload, UploadRequest
from app.datasets.targets import encode_targets
from app.datasets.types import Dataset
from app.errors import InvalidUpload

T = TypeVar("T")


def read_csv(path: Path, request: UploadRequest) -> ParsedUpload:
    return table_upload(readable(lambda: pd.read_csv(path, low_memory=False), "CSV"), request)


def readable(read: Callable[[], T], title: str) -> T:
    """What `read` returns; 422 when the file cannot be read as the format `title` names."""
    try:
        return read()
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise rejected(f"cannot read the file as {title}: {exc}") from exc


def table_upload(frame: pd.DataFrame, request: UploadRequest) -> ParsedUpload:
    """The Dataset and the feature column names, in the order the model will expect them."""
    frame.columns = [str(c) for c in frame.columns]
    columns = list(frame.columns)
    target = _target_column(columns, request.target)
    features = [c for c in columns if c != target]
    if frame.shape[0] == 0:
        raise rejected("the file has no data rows")
    if not features:
        raise rejected(f"the file has no feature columns besides the target column {target!r}")
    x = _features(frame, features)
    column = frame[target]
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise rejected(f"target column {target!r} has no value in row {int(missing[0])}", target, int(missing[0]))
    y, task, classes = encode_targets(_target_values(column), request.task, f"target column {target!r}", target)
    return ParsedUpload(Dataset(request.name, x, y, task, classes), features)


def _target_column(columns: list[str], target: str | None) -> str:
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise rejected(f"column names must be unique; repeated: {duplicated}")
    if not target or target not in columns:
        msg = (
            f"no target column {target!r}" if target else "form field 'target' (the label column) is required"
        ) + f"; the file's columns are {columns}"
        raise InvalidUpload(msg, errors=[{"loc": ["target"], "msg": msg}])
    return target


def _features(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    problems = [_non_numeric(frame[c], c) for c in features if not _is_numeric(frame[c])]
    if problems:
        raise rejected_all(problems)
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf, reported below
        x = frame[features].to_numpy(dtype=np.float32, na_value=np.nan)
    error = nonfinite_columns(x, features)
    if error is not None:
        raise error
    return x


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_complex_dtype(column)


def _non_numeric(column: pd.Series, name: str) -> tuple[str, list[str | int]]:
    """Name the first cell that is not a number, or the column's type when no single cell is to blame."""
    bad = _not_numbers(column)
    if bad.any():
        row = int(np.argmax(bad))
        return f"feature column {name!r} is not numeric: row {row} holds {quoted(column.iloc[row])}", [name, row]
    return f"feature column {name!r} holds {_value_dtype(column)} values, not numbers", [name]


def _not_numbers(column: pd.Series) -> np.ndarray:
    """Per row, whether it holds a value that is not a number; a categorical column's distinct values are
    judged once each (a Parquet text column repeats one value in many rows, and decoding it per row could take
    gigabytes)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return _unparsable(column)
    codes = column.cat.codes.to_numpy()
    return _unparsable(pd.Series(column.cat.categories))[codes] & (codes >= 0)


def _unparsable(values: pd.Series) -> np.ndarray:
    try:
        return (pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy()
    except (TypeError, ValueError):
        return np.zeros(len(values), dtype=bool)


def _value_dtype(column: pd.Series) -> object:
    return column.dtype.categories.dtype if isinstance(column.dtype, pd.CategoricalDtype) else column.dtype


def _target_values(column: pd.Series) -> np.ndarray:
    """Numbers and booleans keep their dtype (it decides the task); anything else becomes text labels, as an
    object array of `str` (a fixed-width text array would give every row the width of the longest label), in
    which a categorical column's rows share its distinct values."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(column):
        return column.to_numpy(dtype=np.float64)
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = np.array([str(value) for value in column.cat.categories], dtype=object)
        return names[column.cat.codes.to_numpy()]
    return column.astype(str).to_numpy(dtype=object)
