"""What a scoring job's child works with (an evaluation or a batch prediction): the version, the runtime that
serves it, the dataset, and the claim to report progress under.

A file-backed dataset over MAAS_IN_MEMORY_MB is scored range by range as its files are read (consecutive ranges
continue one pass over them), never loaded whole; a batch prediction streams every file-backed dataset in three
stages that overlap: a thread decodes the files (Arrow), another fills float32 arrays from the decoded columns
(numpy), and the caller's thread scores them (the runtime), each a chunk behind the one before."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from app.datasets import DatasetRef, load_dataset
from app.datasets.arrays import features_array
from app.datasets.loading import AnyDataset
from app.datasets.streamed import StreamedDataset
from app.jobs.runs import JobRuns
from app.jobs.schemas import Job
from app.jobs.store import JobStore
from app.registry import ModelVersion, open_registry
from app.serving.runtimes import Infer, open_runtime
from app.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class ScoringContext:
    job: Job
    settings: Settings
    spec: dict[str, Any]
    data: AnyDataset
    meta: ModelVersion
    version_dir: Path
    runtime: str
    infer: Infer
    runs: JobRuns
    worker_id: str

    @property
    def work_dir(self) -> Path:
        return self.settings.jobs_dir / self.job.id

    def rows(self, rows: range) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of `rows` of the dataset: views of an in-memory one, read from the files of a streamed one."""
        if isinstance(self.data, StreamedDataset):
            return self.data.read_rows(rows.start, rows.stop)
        return self.data.x[rows.start : rows.stop], self.data.y[rows.start : rows.stop]

    def predict_ranges(self, ranges: list[range], batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(index into `ranges`, the runtime's outputs for its rows) for each range in turn, `batch_size` rows a
        call. The rows are read ahead in threads (`_feature_chunks`): decoding and copying release the GIL, and so
        does the runtime, so reading and scoring share the cores instead of taking turns."""
        chunks = read_ahead(self._feature_chunks(ranges), name="fill-arrays")
        for index, group in groupby(chunks, key=itemgetter(0)):
            yield index, np.concatenate([self.infer_rows(x, batch_size) for _, x in group])

    def _feature_chunks(self, ranges: list[range]) -> Iterator[tuple[int, np.ndarray]]:
        """(index into `ranges`, feature rows) chunk by chunk. A streamed dataset's files are decoded a chunk
        ahead in a thread of their own while this one fills the arrays (both mostly outside the GIL), into three
        arrays taken in turn: the caller scores a chunk while the next one is filled, never more at once."""
        data = self.data
        if not isinstance(data, StreamedDataset):
            for index, rows in enumerate(ranges):
                yield index, data.x[rows.start : rows.stop]
            return
        arrays = Reused(3, len(data.features))
        for index, first_row, table in read_ahead(_feature_tables(data, ranges), name="decode-files"):
            out = arrays.next(table.num_rows)
            yield index, features_array(table, features=data.features, first_row=first_row, out=out)

    def infer_rows(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """The runtime's outputs for the feature rows `x`, `batch_size` rows a call."""
        parts = [self.infer(np.ascontiguousarray(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, *self.meta.output_shape[1:]), np.float32)

    def report_rows(self, rows: int) -> None:
        self.runs.record_rows(self.job.id, self.worker_id, rows=rows, total_rows=self.data.rows)


def _feature_tables(data: StreamedDataset, ranges: list[range]) -> Iterator[tuple[int, int, pa.Table]]:
    """(index into `ranges`, the chunk's first row, its feature columns) chunk by chunk."""
    for index, rows in enumerate(ranges):
        first_row = rows.start
        for table in data.feature_tables(rows.start, rows.stop):
            yield index, first_row, table
            first_row += table.num_rows


class Reused:
    """float32 arrays of `width` columns handed out from `count` buffers in turn: each array's memory is handed
    out again `count` calls later, so a caller must be done with it by then."""

    def __init__(self, count: int, width: int) -> None:
        self.buffers = [np.empty((0, width), np.float32) for _ in range(count)]
        self.turn = 0

    def next(self, rows: int) -> np.ndarray:
        turn, self.turn = self.turn, (self.turn + 1) % len(self.buffers)
        if len(self.buffers[turn]) < rows:
            self.buffers[turn] = np.empty((rows, self.buffers[turn].shape[1]), np.float32)
        return self.buffers[turn][:rows]


def read_ahead(items: Iterator[T], *, name: str = "read-ahead") -> Iterator[T]:
    """`items`, each one made in a thread (named `name`, for profiles) while the caller works on the one before."""
    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix=name) as pool:
        coming = pool.submit(next, items, end)
        while (item := coming.result()) is not end:
            coming = pool.submit(next, items, end)
            yield item  # type: ignore[misc]


def scoring_context(
    job: Job, settings: Settings, store: JobStore, *, in_memory_mb: float | None = None
) -> ScoringContext:
    """The version and dataset a scoring job names, opened through the runtime that serves the version; a
    file-backed dataset of at most `in_memory_mb` (default MAAS_IN_MEMORY_MB) is loaded whole."""
    assert job.worker is not None
    registry = open_registry(settings.registry_location, settings.cache_dir)
    meta = registry.read_version(job.spec["model"], job.spec["version"])
    version_dir = registry.artifact_path(meta.name, meta.version).parent
    runtime, infer = open_runtime(version_dir, meta)
    ref = DatasetRef.model_validate(job.spec["dataset"])
    limit = settings.in_memory_mb if in_memory_mb is None else in_memory_mb
    data = load_dataset(ref, settings.datasets_location, in_memory_mb=limit)
    return ScoringContext(
        job=job,
        settings=settings,
        spec=job.spec,
        data=data,
        meta=meta,
        version_dir=version_dir,
        runtime=runtime,
        infer=infer,
        runs=store.runs,
        worker_id=job.worker.id,
    )
