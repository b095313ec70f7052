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


def output_name(fmt: str) -> str:
    return f"predictions.{fmt}"


def prediction_table(rows: np.ndarray, outputs: np.ndarray, classes: list[str] | None) -> pa.Table:
    """The output columns of some rows; `classes` set for a classifier."""
    columns: dict[str, pa.Array] = {"row": pa.array(rows, pa.int64())}
    outputs = outputs.reshape(len(outputs), -1)
    if classes:
        if outputs.shape[1] == 1:  # one sigmoid unit: the class is p > 0.5, as /predict names it
            probabilities, picked = np.hstack([1 - outputs, outputs]), (outputs[:, 0] > 0.5).astype(int)
        else:
            probabilities, picked = outputs, outputs.argmax(axis=1)
        columns["class"] = pa.array(np.asarray(classes, dtype=object)[picked], pa.string())
        for i, label in enumerate(classes):
            columns[f"probability_{label}"] = pa.array(probabilities[:, i], pa.float32())
    else:
        for i in range(outputs.shape[1]):
            columns[f"output_{i}"] = pa.array(outputs[:, i], pa.float32())
    return pa.table(columns)


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
        pq.write_table(table, partial)
        os.replace(partial, target)
        fsync_dir(self.folder)

    def join(self, target: Path, fmt: str) -> None:
        """Every shard, in row order, into `target` (written beside it, then renamed)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        schema = pq.read_schema(self.path(0))
        if fmt == "parquet":
            with pq.ParquetWriter(partial, schema) as writer:
                for i in range(self.count):
                    writer.write_table(pq.read_table(self.path(i)))
        else:
            with pacsv.CSVWriter(partial, schema) as writer:
                for i in range(self.count):
                    writer.write_table(pq.read_table(self.path(i)))
        os.replace(partial, target)
        fsync_dir(target.parent)
