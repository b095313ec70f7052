"""A training job's cache of a streamed dataset's decoded rows, so that only its first epoch decodes Parquet/CSV.

Decoding is the reading thread's cost (a 16,384 x 784 row group: 30 ms to decode, 25-44 ms to fill float32 rows,
on 2 cores that training needs), and it was paid again every epoch. The first time a read unit is read, its
chunks, as `StreamedDataset.unit_chunks` yields them (float32 features, encoded targets, before any split mask),
are also written to one file at the place their global row index gives: a chunk of `n` rows from row `r` fills
bytes `r * row_bytes .. (r + n) * row_bytes`, features then targets. Units may be written in any order, by any
thread, and twice (the same bytes); a unit counts once all its chunks are written, and is read back from then on
in the very chunks it was decoded in, so every epoch's order (the shuffle buffer draws per chunk) and its batches
are bitwise what decoding gives.

Read back with `os.preadv` into fresh arrays, never mapped: a mapped file's pages count in the child's resident
set, pages read from the page cache do not. A cache starts empty in every process (an earlier file is removed,
nothing half-written is trusted: a resumed job rebuilds it) and goes when training ends (`RowCaches`); the job's
folder it lives in (under its checkpoints) is also removed by whoever clears those, a cancel's included.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from app.datasets.files import Unit
from app.datasets.streamed import StreamedDataset

Chunk = tuple[int, np.ndarray, np.ndarray]  # (global first row, x, y), as StreamedDataset.unit_chunks yields
MARGIN_BYTES = 2**30  # free space left on the disk beyond the cache's size, or it is not made
log = logging.getLogger("maas.child")


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _row_bytes(data: StreamedDataset) -> int:
    """One row's bytes in the cache: its float32 features, then its encoded target."""
    return 4 * len(data.features) + data.target_dtype.itemsize


class RowCache:
    """One streamed dataset's decoded rows in one file; `unit_chunks` reads a unit through it or back from it."""

    def __init__(self, path: Path, data: StreamedDataset, *, batch_rows: int) -> None:
        self.path, self.data, self.batch_rows = path, data, batch_rows
        self.x_shape = (len(data.features),)
        self.y_dtype = data.target_dtype
        self.row_bytes = _row_bytes(data)
        path.unlink(missing_ok=True)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._complete: dict[tuple[str, int], list[int]] = {}  # unit -> the sizes of the chunks it was read in
        self._lock = threading.Lock()
        self._writing = True

    @property
    def bytes(self) -> int:
        return self.data.rows * self.row_bytes

    @classmethod
    def open(
        cls,
        path: Path,
        data: StreamedDataset,
        *,
        batch_rows: int,
        reserved: int = 0,
        free: Callable[[Path], int] = free_bytes,
        margin: int = MARGIN_BYTES,
    ) -> RowCache | None:
        """A fresh cache of `data` at `path`, or None (logged) where the disk has less free space than its rows
        take, plus `reserved` (other caches still to fill) and `margin`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        needed, available = data.rows * _row_bytes(data), free(path.parent)
        if available < needed + reserved + margin:
            path.unlink(missing_ok=True)
            log.info(
                "decoded rows of dataset %s are not cached: %d bytes free under %s, fewer than their %d bytes "
                "(plus %d reserved and a %d-byte margin); every epoch decodes its files",
                data.info.id, available, path.parent, needed, reserved, margin,
            )  # fmt: skip
            return None
        cache = cls(path, data, batch_rows=batch_rows)
        log.info("caching the decoded rows of dataset %s in %s (%d bytes)", data.info.id, path, cache.bytes)
        return cache

    def unit_chunks(self, unit: Unit) -> Iterator[Chunk]:
        """(first row, x, y) of the chunks of one read unit (at most `batch_rows` rows each): read back once the
        unit is complete, else decoded and written on the way."""
        with self._lock:
            sizes = self._complete.get((unit.file, unit.part))
        if sizes is not None:
            yield from self._read_back(unit.first_row, sizes)
            return
        written: list[int] = []
        for first_row, x, y in self.data.unit_chunks(unit, batch_rows=self.batch_rows):
            if self._writing:
                self._write(first_row, x, y)
                written.append(len(x))
            yield first_row, x, y
        if self._writing:  # else a write failed: the unit may lack a chunk
            with self._lock:
                self._complete[(unit.file, unit.part)] = written

    def _write(self, first_row: int, x: np.ndarray, y: np.ndarray) -> None:
        if x.dtype != np.float32 or x.shape[1:] != self.x_shape or y.dtype != self.y_dtype or y.ndim != 1:
            raise RuntimeError(f"a chunk of {x.dtype} {x.shape} and {y.dtype} {y.shape} does not fit the row cache")
        offset = first_row * self.row_bytes
        try:
            for part in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
                view = memoryview(part).cast("B")
                while view:
                    done = os.pwrite(self._descriptor, view, offset)
                    view, offset = view[done:], offset + done
        except OSError as exc:  # e.g. the disk filled up since the cache was opened
            self._writing = False
            log.warning("the row cache %s stops growing (%s): units not cached yet are decoded again", self.path, exc)

    def _read_back(self, first_row: int, sizes: list[int]) -> Iterator[Chunk]:
        offset = first_row * self.row_bytes
        for rows in sizes:
            x, y = np.empty((rows, *self.x_shape), np.float32), np.empty(rows, self.y_dtype)
            for part in (x, y):
                view = memoryview(part).cast("B")
                while view:
                    done = os.preadv(self._descriptor, [view], offset)
                    if done == 0:
                        raise RuntimeError(f"the row cache {self.path} ends before byte {offset}")
                    view, offset = view[done:], offset + done
            yield first_row, x, y
            first_row += rows

    @property
    def _descriptor(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"the row cache {self.path} is closed")
        return self._fd

    def close(self) -> None:
        """Remove the file; call once no thread reads it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class RowCaches:
    """A training run's row caches, one file per streamed dataset in `folder` (None: MAAS_STREAM_CACHE is off),
    the folder emptied when made and removed on exit, whatever ends the run."""

    def __init__(self, folder: Path | None, *, batch_rows: int, free: Callable[[Path], int] = free_bytes) -> None:
        self.folder, self.batch_rows, self.free = folder, batch_rows, free
        self.caches: list[RowCache] = []
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def open(self, data: StreamedDataset) -> RowCache | None:
        if self.folder is None:
            log.info("decoded rows of dataset %s are not cached (MAAS_STREAM_CACHE is off)", data.info.id)
            return None
        reserved = sum(cache.bytes for cache in self.caches)
        path = self.folder / f"rows-{len(self.caches)}.bin"
        cache = RowCache.open(path, data, batch_rows=self.batch_rows, reserved=reserved, free=self.free)
        if cache is not None:
            self.caches.append(cache)
        return cache

    def __enter__(self) -> RowCaches:
        return self

    def __exit__(self, *exc: object) -> None:
        for cache in self.caches:
            cache.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
