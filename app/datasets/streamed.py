"""A profiled file-backed dataset read where it lies: what its record says, a bounded sample, its read units, and
rows by range; and the deterministic split of its rows into training, validation and test.

A `StreamedDataset` answers what code written for an in-memory `Dataset` asks of a dataset (`name`, `rows`,
`feature_shape`, `task`, `classes`, `sha256`, `describe()`), and its `x`/`y` are a sample of its first
`SAMPLE_ROWS` rows: enough for publishing's export check, never the whole data. Code that needs every row reads
them through `chunks()`, `read_rows()` or `units` (`app.datasets.files`).

Rows are split by a hash of their global index (`split_keys`), not by a shuffled permutation of all rows, so that
a row's side is known from its index alone, in any read order, with no list of rows held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from app.datasets.arrays import to_arrays
from app.datasets.files import BATCH_ROWS, Unit, iter_tables, list_units, read_unit, read_units
from app.datasets.schemas import DatasetInfo
from app.datasets.types import Dataset, describe

SAMPLE_ROWS = 2048
KEY_ROWS = 1 << 20  # row keys are counted this many at a time
# Features read for scoring, a chunk at a time: small enough that a wide table's chunks (784 float32 columns:
# 21,845 rows) stay a few in memory at once, big enough to read a row group of 16,384 rows in one batch (a
# smaller batch than the row group reads 1.3x slower, measured).
FEATURE_CHUNK_BYTES = 64 * 2**20
XY = tuple[np.ndarray, np.ndarray]
Parts = tuple[np.ndarray, ...] | tuple[pa.Table]  # the same rows: (x, y) arrays, or a table of the features


def split_keys(first_row: int, count: int, seed: int) -> np.ndarray:
    """A uniform key in [0, 1) for each of rows `first_row .. first_row + count`, a function of (row, seed):
    splitmix64 of the row index offset by the seed."""
    with np.errstate(over="ignore"):
        z = np.arange(first_row, first_row + count, dtype=np.uint64) + np.uint64(seed & (2**64 - 1))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class RowSplit:
    """The rows whose split key lies in [low, high): a dataset's training, validation or test rows."""

    low: float = 0.0
    high: float = 1.0
    seed: int = 0

    def mask(self, first_row: int, count: int) -> np.ndarray:
        if self.low <= 0.0 and self.high >= 1.0:
            return np.ones(count, dtype=bool)
        keys = split_keys(first_row, count, self.seed)
        return (keys >= self.low) & (keys < self.high)

    def count(self, rows: int) -> int:
        return sum(int(self.mask(start, min(KEY_ROWS, rows - start)).sum()) for start in range(0, rows, KEY_ROWS))


@dataclass(frozen=True, eq=False)
class RecordedDataset(Dataset):
    """A file-backed dataset read whole: its hash is the record's (profiling's), whether it is loaded or
    streamed, so an evaluation or a version names the same data either way."""

    recorded_sha256: str | None = None

    @property
    def sha256(self) -> str:
        return self.recorded_sha256 or super().sha256


class StreamedDataset:
    """A ready file-backed dataset (`info.files`), read in chunks; see the module's docstring."""

    def __init__(self, info: DatasetInfo) -> None:
        assert info.files is not None and info.features is not None and info.task is not None
        self.info = info
        self.name = info.name
        self.task = info.task
        self.classes = info.classes
        self.features = list(info.features)
        self._cursor: _Cursor | None = None  # where read_rows left off

    @property
    def rows(self) -> int:
        return int(self.info.rows or 0)

    @property
    def feature_shape(self) -> list[int]:
        return list(self.info.feature_shape or [len(self.features)])

    @property
    def n_classes(self) -> int:
        return len(self.classes or [])

    @property
    def target_shape(self) -> list[int]:
        return []  # a table's target is one value per row

    @property
    def sha256(self) -> str:
        return self.info.sha256 or ""

    @property
    def bytes(self) -> int:
        return int(self.info.bytes or 0)

    def describe(self) -> dict[str, object]:
        """What the registry records about the training data (as `Dataset.describe`), plus where it lies."""
        return {**describe(self), "source": self.info.source}

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per feature (mean, population std), from profiling."""
        mean = np.asarray(self.info.feature_mean or np.zeros(len(self.features)), dtype=np.float32)
        std = np.asarray(self.info.feature_std or np.ones(len(self.features)), dtype=np.float32)
        return mean, std

    @cached_property
    def units(self) -> list[Unit]:
        """The read units (Parquet row groups, CSV byte ranges), listed once per process."""
        return list_units(self.files, self.info.format)

    @property
    def files(self) -> list[str]:
        return list(self.info.files or [])

    @cached_property
    def sample(self) -> XY:
        """(x, y) of the first `SAMPLE_ROWS` rows."""
        return self.read_rows(0, min(SAMPLE_ROWS, self.rows))

    @property
    def x(self) -> np.ndarray:
        return self.sample[0]

    @property
    def y(self) -> np.ndarray:
        return self.sample[1]

    def arrays(self, table: pa.Table, first_row: int, out: np.ndarray | None = None) -> XY:
        info = self.info
        assert info.target is not None
        return to_arrays(
            table,
            features=self.features,
            target=info.target,
            task=self.task,
            classes=self.classes,
            first_row=first_row,
            out=out,
        )

    @property
    def columns(self) -> list[str]:
        return [*self.features, str(self.info.target)]

    def chunks(self, *, batch_rows: int = BATCH_ROWS) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first row, x, y) of every chunk, in order: one sequential pass."""
        for _url, first_row, table in iter_tables(
            self.files, self.info.format, batch_rows=batch_rows, columns=self.columns
        ):
            yield first_row, *self.arrays(table, first_row)

    def unit_chunks(
        self, unit: Unit, *, batch_rows: int = BATCH_ROWS, into: Callable[[int], np.ndarray] | None = None
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first row, x, y) of the chunks of one read unit; with `into`, each chunk's x is decoded into
        `into(rows)` (float32 [rows, *feature_shape], C-contiguous: a row cache's record, written as it is)."""
        first_row = unit.first_row
        for table in read_unit(unit, batch_rows=batch_rows, columns=self.columns):
            yield first_row, *self.arrays(table, first_row, into(table.num_rows) if into is not None else None)
            first_row += table.num_rows

    def read_rows(self, start: int, stop: int) -> XY:
        """(x, y) of rows `start .. stop`. Consecutive ranges (shards scored in order) continue one pass; any
        other start reads from the unit that holds it."""
        parts = list(self._cursor_at(start, targets=True).take(stop - start))
        if not parts:
            return np.zeros((0, *self.feature_shape), np.float32), np.zeros((0,), self.target_dtype)
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])

    def feature_tables(self, start: int, stop: int) -> Iterator[pa.Table]:
        """The feature columns of rows `start .. stop`, chunk by chunk as the files are read, without the targets
        (a batch prediction needs none); consecutive ranges continue one pass, as in `read_rows`. Tables, not yet
        arrays (`app.datasets.arrays.features_array`): a batch prediction decodes the files in one thread and
        fills arrays in another, so that the two overlap."""
        for (table,) in self._cursor_at(start, targets=False).take(stop - start):
            yield table

    @property
    def target_dtype(self) -> np.dtype:
        """The dtype of the targets it hands out: float32 values, or int64 class indices."""
        return np.dtype(np.float32 if self.task == "regression" else np.int64)

    def _cursor_at(self, start: int, *, targets: bool) -> _Cursor:
        cursor = self._cursor
        if cursor is None or cursor.row != start or cursor.targets != targets:
            cursor = self._cursor = _Cursor(start, self._parts_from(start, targets=targets), targets=targets)
        return cursor

    def _parts_from(self, start: int, *, targets: bool) -> Iterator[Parts]:
        """The rows from `start` on, as arrays chunk by chunk: (x, y), or (x,) without the targets."""
        units = self.units
        index = next((i for i, u in enumerate(units) if u.first_row + u.rows > start), len(units))
        columns = self.columns if targets else self.features
        width = max(1, len(self.features))
        batch_rows = BATCH_ROWS if targets else max(1, min(BATCH_ROWS, FEATURE_CHUNK_BYTES // (4 * width)))
        first_row = units[index].first_row if index < len(units) else start
        for _unit, table in read_units(units[index:], batch_rows=batch_rows, columns=columns):
            skip = max(0, start - first_row)  # rows before `start` are never decoded into arrays
            if skip < table.num_rows:
                part = table.slice(skip)
                yield self.arrays(part, first_row + skip) if targets else (part,)
            first_row += table.num_rows

    def load(self) -> RecordedDataset:
        """Every row in memory, as an upload would hold it (for a dataset within MAAS_IN_MEMORY_MB)."""
        parts = [(x, y) for _row, x, y in self.chunks()]
        x = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, *self.feature_shape), np.float32)
        y = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0,), self.target_dtype)
        return RecordedDataset(self.name, x, y, self.task, self.classes, recorded_sha256=self.info.sha256)


class _Cursor:
    """A place in a pass over the rows: the next row's index, and the rest of the pass from there."""

    def __init__(self, row: int, rest: Iterator[Parts], *, targets: bool) -> None:
        self.row, self.rest, self.targets = row, rest, targets
        self.pending: Parts | None = None  # the part of a chunk not taken yet

    def take(self, count: int) -> Iterator[Parts]:
        """The next `count` rows (fewer past the end), as views of the chunks they were read in."""
        while count > 0:
            parts = self.pending if self.pending is not None else next(self.rest, None)
            if parts is None:
                return
            rows = len(parts[0])
            self.pending = tuple(a[count:] for a in parts) if rows > count else None
            taken = tuple(a[:count] for a in parts)
            count -= len(taken[0])
            self.row += len(taken[0])
            yield taken
