"""A training job's cache of a streamed dataset's decoded rows, so that only its first epoch decodes Parquet/CSV.

Decoding is the reading thread's cost (a 16,384 x 784 row group: 30 ms to decode, 25-44 ms to fill float32 rows,
on 2 cores that training needs), and it was paid again every epoch. The first time a read unit is read, its
chunks, as `StreamedDataset.unit_chunks` yields them (float32 features, encoded targets, before any split mask),
are also written to one file, in the unit's own region: the units' regions follow one another in the order of
their rows, each sized for its rows and the padding of its chunks, and a unit's chunks follow one another there,
each a record (features, then targets) starting at a multiple of `ALIGN`. Units may be written in any order, by
any thread, and twice (the same bytes at the same place); a unit counts once all its chunks are written, and is
read back from then on in the very chunks it was decoded in, so every epoch's order (the shuffle buffer draws per
chunk) and its batches are bitwise what decoding gives.

The file is written and read around the page cache where the filesystem allows (app/direct_io.py): buffered, the
first epoch of 1.3M x 784 rows spent ~38 s of system time putting 4 GB into fresh page-cache pages, and epochs
read back swung by 2x as the page cache dropped parts of it. Read back into fresh arrays, never mapped, so the
child's resident set holds only the chunks in flight. A cache starts empty in every process (an earlier file is
removed, nothing half-written is trusted: a resumed job rebuilds it) and goes when training ends (`RowCaches`);
the job's folder it lives in (under its checkpoints) is also removed by whoever clears those, a cancel's included.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.datasets.files import Unit
from app.datasets.streamed import StreamedDataset
from app.direct_io import ALIGN, AlignedBuffers, align_up, open_direct, read_at, write_at

Chunk = tuple[int, np.ndarray, np.ndarray]  # (global first row, x, y), as StreamedDataset.unit_chunks yields
MARGIN_BYTES = 2**30  # free space left on the disk beyond the cache's size, or it is not made
READ_BUFFERS = 4  # chunks decoded or read back whose memory is reused: a reader holds two or three at a time
TARGETS_ALIGN = 64  # a record's targets start at a multiple of this past its start, whatever its features' bytes
log = logging.getLogger("maas.child")


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


@dataclass(frozen=True)
class Layout:
    """Where each unit's chunks go in a cache of `data`: records of `x_bytes` a row of features, then `y_bytes` a
    row of targets, each record padded to `ALIGN`; each unit's region holds its rows' records as chunks of
    `batch_rows` would cut them, with room for two more (a reader may cut a unit into more chunks than that)."""

    x_bytes: int
    y_bytes: int
    regions: dict[tuple[str, int], tuple[int, int]]  # unit -> (offset, bytes)

    @classmethod
    def of(cls, data: StreamedDataset, *, batch_rows: int) -> Layout:
        x_bytes, y_bytes = 4 * len(data.features), data.target_dtype.itemsize
        regions, offset = {}, 0
        for unit in data.units:
            chunks = -(-unit.rows // batch_rows) + 2
            size = align_up(unit.rows * (x_bytes + y_bytes) + chunks * (ALIGN + TARGETS_ALIGN))
            regions[(unit.file, unit.part)] = (offset, size)
            offset += size
        return cls(x_bytes, y_bytes, regions)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.regions.values())

    def targets_at(self, rows: int) -> int:
        """Where a record of `rows` rows has its targets, from its start."""
        return align_up(rows * self.x_bytes, TARGETS_ALIGN)

    def record_bytes(self, rows: int) -> int:
        return align_up(self.targets_at(rows) + rows * self.y_bytes)


class RowCache:
    """One streamed dataset's decoded rows in one file; `unit_chunks` reads a unit through it or back from it."""

    def __init__(self, path: Path, data: StreamedDataset, *, batch_rows: int, layout: Layout | None = None) -> None:
        self.path, self.data, self.batch_rows = path, data, batch_rows
        self.layout = layout or Layout.of(data, batch_rows=batch_rows)
        self.x_shape = (len(data.features),)
        self.y_dtype = data.target_dtype
        path.unlink(missing_ok=True)
        fd, self.direct = open_direct(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        self._fd: int | None = fd
        self._complete: dict[tuple[str, int], list[int]] = {}  # unit -> the sizes of the chunks it was read in
        self._lock = threading.Lock()
        self._writing = True
        self._buffers = AlignedBuffers(READ_BUFFERS)

    @property
    def bytes(self) -> int:
        return self.layout.bytes

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
        layout = Layout.of(data, batch_rows=batch_rows)
        needed, available = layout.bytes, free(path.parent)
        if available < needed + reserved + margin:
            path.unlink(missing_ok=True)
            log.info(
                "decoded rows of dataset %s are not cached: %d bytes free under %s, fewer than their %d bytes "
                "(plus %d reserved and a %d-byte margin); every epoch decodes its files",
                data.info.id, available, path.parent, needed, reserved, margin,
            )  # fmt: skip
            return None
        cache = cls(path, data, batch_rows=batch_rows, layout=layout)
        log.info(
            "caching the decoded rows of dataset %s in %s (%d bytes, %s)",
            data.info.id, path, cache.bytes, "direct I/O" if cache.direct else "through the page cache",
        )  # fmt: skip
        return cache

    def unit_chunks(self, unit: Unit) -> Iterator[Chunk]:
        """(first row, x, y) of the chunks of one read unit (at most `batch_rows` rows each): read back once the
        unit is complete, else decoded and written on the way."""
        key = (unit.file, unit.part)
        with self._lock:
            sizes = self._complete.get(key)
        offset, size = self.layout.regions[key]
        if sizes is not None:
            yield from self._read_back(unit.first_row, offset, sizes)
            return
        written: list[int] | None = []
        end = offset + size
        records: list[np.ndarray] = []  # the record each chunk's features were decoded into
        for first_row, x, y in self.data.unit_chunks(unit, batch_rows=self.batch_rows, into=self._into(records)):
            record = records.pop()
            if written is not None and self._writing and offset + len(record) <= end:
                self._write(offset, record, y)
                written.append(len(x))
                offset += len(record)
            else:
                written = None  # cut into more chunks than its region has room for: decoded every time
            del record  # the chunk's arrays alone keep it from being reused
            yield first_row, x, y
        if written is not None and self._writing:  # else a write failed: the unit may lack a chunk
            with self._lock:
                self._complete[key] = written

    def _into(self, records: list[np.ndarray]) -> Callable[[int], np.ndarray]:
        """Where a chunk of `rows` rows decodes its features: the start of a record (appended to `records`) that is
        written out as it is, no copy between, in a buffer reused once nothing refers to it (as the read-back
        chunks are, from the same few buffers)."""

        def into(rows: int) -> np.ndarray:
            record = self._buffers.take(self.layout.record_bytes(rows))
            records.append(record)
            return record[: rows * self.layout.x_bytes].view(np.float32).reshape(rows, *self.x_shape)

        return into

    def _write(self, offset: int, record: np.ndarray, y: np.ndarray) -> None:
        """Write a record whose features are in place, with the targets `y` put after them."""
        if y.dtype != self.y_dtype or y.ndim != 1:
            raise RuntimeError(f"targets of {y.dtype} {y.shape} do not fit the row cache")
        at = self.layout.targets_at(len(y))
        record[at : at + len(y) * self.layout.y_bytes] = np.ascontiguousarray(y).view(np.uint8)
        try:
            write_at(self._descriptor, record, offset)
        except OSError as exc:  # e.g. the disk filled up since the cache was opened
            self._writing = False
            log.warning("the row cache %s stops growing (%s): units not cached yet are decoded again", self.path, exc)

    def _read_back(self, first_row: int, offset: int, sizes: list[int]) -> Iterator[Chunk]:
        layout = self.layout
        for rows in sizes:
            record = self._buffers.take(layout.record_bytes(rows))
            try:
                read_at(self._descriptor, record, offset)
            except EOFError as exc:
                raise RuntimeError(f"the row cache {self.path} ends too soon: {exc}") from exc
            at = layout.targets_at(rows)
            x = record[: rows * layout.x_bytes].view(np.float32).reshape(rows, *self.x_shape)
            y = record[at : at + rows * layout.y_bytes].view(self.y_dtype)
            yield first_row, x, y
            first_row += rows
            offset += len(record)

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
