"""Profiling a file-backed dataset: one streaming pass through its files (app/datasets/files.py) in bounded
memory, which finds what an upload's parse finds (rows, features, task, classes, hash) plus per-feature mean and
population std, or the first problem, naming the file, the column and the row.

Rows count from 0 over all files in read order (the dataset's global row), as `loc`s and training do; messages
also say where the file's own rows start. Memory holds one chunk (`BATCH_ROWS` rows) and up to `MAX_CLASSES`
distinct labels, whatever the dataset's size.

The content hash (`sha256`) is over the parsed data, not the files' bytes: the feature and target column names,
every row's features as float32 in column order (row-major), every row's target (numbers as float64, text as
UTF-8 with a separator), and the class names. Chunking does not enter it, so the same table gives the same hash
however it is split into files, row groups or chunks, and whether it is Parquet or CSV.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from app.datasets.arrays import features_array
from app.datasets.checks import quoted
from app.datasets.files import iter_tables
from app.datasets.schemas import DatasetInfo
from app.datasets.targets import MAX_DEFAULT_CLASSES, _comparable_labels, encode_targets
from app.datasets.types import Task
from app.errors import InvalidUpload

BATCH_ROWS = 8192  # rows per chunk: 784 float32 features are 25 MB, plus the chunk as read
MAX_CLASSES = 10_000  # more distinct labels than this is no classification a dense head could learn


class ProfileError(Exception):
    """The dataset cannot be used; the message names the file, the column and the row."""


@dataclass
class FeatureMoments:
    """Count, mean and sum of squared deviations per column, merged chunk by chunk (Chan et al.) in float64."""

    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        if not len(x):
            return
        block = x.astype(np.float64)
        mean = block.mean(axis=0)
        m2 = ((block - mean) ** 2).sum(axis=0)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = len(block), mean, m2
            return
        total = self.n + len(block)
        delta = mean - self.mean
        self.mean = self.mean + delta * (len(block) / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * len(block) / total)
        self.n = total

    @property
    def std(self) -> np.ndarray:
        assert self.m2 is not None
        return np.sqrt(self.m2 / self.n)


@dataclass
class TargetValues:
    """The target's distinct labels (while there are at most MAX_CLASSES), the kinds of values seen, and the
    hash of every value, so that the task and classes come out as an upload of the same table would give them."""

    label: str
    distinct: np.ndarray | None = None
    overflowed: bool = False
    kinds: set[str] = field(default_factory=set)
    digest: Any = field(default_factory=hashlib.sha256)

    def add(self, values: np.ndarray, where: str) -> None:
        self.kinds.add(values.dtype.kind)
        if values.dtype.kind in "biuf":
            self.digest.update(values.astype("<f8").tobytes())
        else:
            self.digest.update("".join(f"{value}\x1f" for value in values).encode())
        if self.overflowed:
            return
        try:
            found = np.unique(_comparable_labels(values, self.label, self.label))
            self.distinct = found if self.distinct is None else np.union1d(self.distinct, found)
        except TypeError as exc:
            raise ProfileError(f"{where}: {self.label} mixes numbers and text") from exc
        if self.distinct.size > MAX_CLASSES:
            self.overflowed, self.distinct = True, None

    def task_and_classes(self, task: Task | None) -> tuple[Task, list[str] | None]:
        task = task or self._inferred_task()
        if task == "regression":
            if not self.kinds <= set("biuf"):
                raise ProfileError(f"{self.label} must hold numbers for regression; it holds text")
            return task, None
        if self.overflowed or self.distinct is None:
            raise ProfileError(
                f"{self.label} has more than {MAX_CLASSES} distinct labels, too many for classification; "
                "register it with task 'regression' if the labels are numbers"
            )
        _y, _task, classes = encode_targets(self.distinct, "classification", self.label, self.label)
        return "classification", classes

    def _inferred_task(self) -> Task:
        """targets.infer_task's rule on the whole column: floats regression, integers by their distinct count."""
        if "f" in self.kinds:
            return "regression"
        if self.kinds <= set("iu"):
            many = self.overflowed or self.distinct is None or self.distinct.size > MAX_DEFAULT_CLASSES
            return "regression" if many else "classification"
        return "classification"


@dataclass(frozen=True)
class Profile:
    rows: int
    features: list[str]
    task: Task
    classes: list[str] | None
    mean: list[float]
    std: list[float]
    sha256: str


def profile_files(info: DatasetInfo, *, on_rows: Callable[[int], None] | None = None) -> Profile:
    """Profile the record's files (`files`, `format`, `target`, `task`); ProfileError naming what is wrong.
    `on_rows(rows)` is called after each chunk, e.g. to report progress (it may raise to stop the pass)."""
    assert info.files is not None and info.target is not None
    target, features, rows = TargetValues(f"target column {info.target!r}"), list[str](), 0
    moments, digest = FeatureMoments(), hashlib.sha256()
    for where, first_row, table in _chunks(info.files, info.format):
        if not features:
            features = _columns(table, info.target, where)
        _same_columns(table, [*features, info.target], where)
        x = _features(table, features, first_row, where)
        moments.add(x)
        digest.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
        target.add(_target(table.column(info.target), target.label, first_row, where), where)
        rows = first_row + table.num_rows
        if on_rows is not None:
            on_rows(rows)
    if not rows:
        raise ProfileError(f"the files of {info.source or info.id} hold no data rows")
    task, classes = target.task_and_classes(info.task)
    assert moments.mean is not None
    names = "\x1f".join([*features, "\x1e", info.target, "\x1e", *(classes or [])]).encode()
    return Profile(
        rows=rows,
        features=features,
        task=task,
        classes=classes,
        mean=[float(v) for v in moments.mean],
        std=[float(v) for v in moments.std],
        sha256=hashlib.sha256(names + digest.digest() + target.digest.digest()).hexdigest(),
    )


def _chunks(files: list[str], fmt: str) -> Iterator[tuple[str, int, pa.Table]]:
    """(where, global first row, chunk); `where` names the file and the global row its own rows start at."""
    starts: dict[str, int] = {}
    tables = iter_tables(files, fmt, batch_rows=BATCH_ROWS)
    while True:
        try:
            url, first_row, table = next(tables)
        except StopIteration:
            return
        except InvalidUpload as exc:  # the reader names the file
            raise ProfileError(exc.detail) from exc
        start = starts.setdefault(url, first_row)
        yield f"{url} (its rows start at row {start})", first_row, table


def _columns(table: pa.Table, target: str, where: str) -> list[str]:
    """The feature columns (every one but the target), in the first file's order."""
    names = table.column_names
    if target not in names:
        raise ProfileError(f"{where}: no target column {target!r}; the file's columns are {names}")
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ProfileError(f"{where}: column names must be unique; repeated: {repeated}")
    features = [name for name in names if name != target]
    if not features:
        raise ProfileError(f"{where}: no feature columns besides the target column {target!r}")
    return features


def _same_columns(table: pa.Table, expected: list[str], where: str) -> None:
    """Every file holds the first file's columns (in any order): a mixed schema names the file."""
    names = table.column_names
    if set(names) != set(expected) or len(names) != len(expected):
        missing, extra = sorted(set(expected) - set(names)), sorted(set(names) - set(expected))
        raise ProfileError(
            f"{where}: its columns differ from the first file's (missing {missing}, unexpected {extra}); "
            f"every file of a dataset holds the same columns: {expected}"
        )


def _features(table: pa.Table, features: list[str], first_row: int, where: str) -> np.ndarray:
    for name in features:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            _first_text(column, name, first_row, where)
    try:
        return features_array(table, features=features, first_row=first_row)
    except InvalidUpload as exc:
        raise ProfileError(f"{where}: {exc.detail}") from exc


def _first_text(column: pa.ChunkedArray, name: str, first_row: int, where: str) -> None:
    """Raise naming the first cell of a text column that is not a number."""
    for row, value in enumerate(column.to_pylist()):
        try:
            float(value)
        except (TypeError, ValueError):
            msg = f"feature column {name!r} is not numeric: row {first_row + row} holds {quoted(value)}"
            raise ProfileError(f"{where}: {msg}") from None


def _target(column: pa.ChunkedArray, label: str, first_row: int, where: str) -> np.ndarray:
    """The chunk's target values; a missing or non-finite one names its row."""
    if column.null_count:
        row = first_row + int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ProfileError(f"{where}: {label} has no value in row {row}")
    if isinstance(column.type, pa.DictionaryType):
        column = column.cast(column.type.value_type)
    values = column.to_numpy(zero_copy_only=False)
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ProfileError(f"{where}: {label} holds {values[bad[0]]} in row {first_row + int(bad[0])}")
    elif values.dtype.kind == "O":
        values = np.array([str(value) for value in values], dtype=object)
    return values
