"""A batch prediction's output: one shard file per fixed range of rows, each written beside its place and
renamed into it, so a shard either exists whole or not at all; a job killed mid-way redoes only the shards
that are missing, and no row is written twice. The shards are joined into the one output file the same way.

Columns: `row` (the dataset's row index), then `class` and `probability_<label>` per class for a classifier,
`output_0` ... `output_{k-1}` otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from app.durable import fsync_dir

SHARD = "shard-{:06d}.parquet"
# Only the class column is dictionary-encoded: the probabilities hardly repeat, and trying to encode them made
# writing a shard 7x slower (36 ms for 65,536 rows, against 5) for a bigger file.
DICTIONARY = ["class"]


def output_name(fmt: str) -> str:
    return f"predictions.{fmt}"


def prediction_table(rows: np.ndarray, outputs: np.ndarray, classes: list[str] | None) -> pa.Table:
    """The output columns of some rows; `classes` set for a classifier.

    Built from numpy buffers, not `pa.array`: that imports pyarrow.compute, 0.4 s of a light child's run."""
    columns: dict[str, pa.Array] = {"row": _numbers(rows.astype(np.int64), pa.int64())}
    outputs = outputs.reshape(len(outputs), -1)
    if classes:
        if outputs.shape[1] == 1:  # one sigmoid unit: the class is p > 0.5, as /predict names it
            probabilities, picked = np.hstack([1 - outputs, outputs]), (outputs[:, 0] > 0.5).astype(int)
        else:
            probabilities, picked = outputs, outputs.argmax(axis=1)
        columns["class"] = _labels(classes, picked)
        for i, label in enumerate(classes):
            columns[f"probability_{label}"] = _numbers(probabilities[:, i].astype(np.float32), pa.float32())
    else:
        for i in range(outputs.shape[1]):
            columns[f"output_{i}"] = _numbers(outputs[:, i].astype(np.float32), pa.float32())
    return pa.table(columns)


def _numbers(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _labels(classes: list[str], picked: np.ndarray) -> pa.Array:
    """The labels at `picked`, as a string column: each row's bytes gathered from the labels' at once."""
    encoded = [label.encode() for label in classes]
    sizes = np.array([len(label) for label in encoded], np.int64)
    starts = np.cumsum(sizes) - sizes
    lengths = sizes[picked]
    offsets = np.zeros(len(picked) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError(f"{len(picked)} labels take {offsets[-1]} bytes, more than a string column holds")
    index = np.repeat(starts[picked] - offsets[:-1], lengths) + np.arange(offsets[-1])
    data = np.frombuffer(b"".join(encoded), np.uint8)[index]
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(picked), buffers)


class Shards:
    """The shards of one job in `folder`: shard i holds rows [i * shard_rows, (i + 1) * shard_rows)."""

    def __init__(self, folder: Path, total_rows: int, shard_rows: int) -> None:
        self.folder, self.total_rows, self.shard_rows = folder, total_rows, shard_rows

    @property
    def count(self) -> int:
        return -(-self.total_rows // self.shard_rows)

    def rows(self, index: int) -> range:
        return range(index * self.shard_rows, min((index + 1) * self.shard_rows, self.total_rows))

    def path(self, index: int) -> Path:
        return self.folder / SHARD.format(index)

    def done(self, index: int) -> bool:
        return self.path(index).is_file()

    def rows_done(self) -> int:
        return sum(len(self.rows(i)) for i in range(self.count) if self.done(i))

    def write(self, index: int, table: pa.Table) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(index)
        partial = target.with_suffix(".partial")
        pq.write_table(table, partial, use_dictionary=DICTIONARY)
        os.replace(partial, target)
        fsync_dir(self.folder)

    def join(self, target: Path, fmt: str) -> None:
        """Every shard, in row order, into `target` (written beside it, then renamed)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        schema = pq.read_schema(self.path(0))
        with (
            pq.ParquetWriter(partial, schema, use_dictionary=DICTIONARY)
            if fmt == "parquet"
            else pacsv.CSVWriter(partial, schema)
        ) as writer:
            for i in range(self.count):
                # ParquetFile, not pq.read_table: that goes through pyarrow.dataset and imports pyarrow.compute
                writer.write_table(pq.ParquetFile(self.path(i)).read())
        os.replace(partial, target)
        fsync_dir(target.parent)
