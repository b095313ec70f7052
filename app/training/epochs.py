"""Epochs of a dataset too big for memory (`StreamedDataset`), in an order that is a function of (seed, epoch).

An epoch visits the dataset's read units (Parquet row groups, CSV byte ranges) in a permutation drawn from
`numpy.random.default_rng([seed, epoch])`, and passes their rows through a shuffle buffer of about `SHUFFLE_BYTES`
driven by the same generator: each chunk of rows read takes the places of as many rows drawn at random from the
buffer, which leave in the order drawn (at the end, the buffer empties in a random order). Rows leave in blocks
of `DRAW_ROWS` as chunks are read, so training can start on a block while the next chunk is read, and each row is
copied twice (into the buffer, out of it) whatever the buffer's size. Which rows train, validate or test is a hash
of each row's global index (`RowSplit`). So epoch 7 of a job resumed after epoch 6 gets exactly the batches an
uninterrupted run gets, and no permutation of all rows is ever held. A job reads a unit back from its row cache
after the first time (app/training/row_cache.py), in the chunks it was decoded in: the same order, bitwise. No
Keras here: Keras' view of these batches is app/training/streaming.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from app.datasets.files import Unit
from app.datasets.streamed import RowSplit, StreamedDataset
from app.direct_io import AlignedBuffers
from app.training.row_cache import RowCache

XY = tuple[np.ndarray, np.ndarray]
SHUFFLE_BYTES = 64 * 2**20  # rows shuffled together: beyond a row group, bounded whatever the dataset's size
READ_ROWS = 8192  # rows decoded at a time (fewer: more Python per column in the decode, epoch 1 a fifth slower)
DRAW_ROWS = 4096  # rows leaving the shuffle buffer at a time: half a chunk, 120 MiB less held than a whole one
DRAW_BUFFERS = 6  # draws whose memory is reused: those read ahead, the one training is on, an epoch's first kept


@dataclass(frozen=True)
class StreamedRows:
    """Some rows of a streamed dataset (its training, validation or test rows), targets encoded for the loss.

    `labels` maps the dataset's class indices onto the training data's (a second dataset for validation);
    `encode` turns class indices or values into what the loss expects; `cache`, the dataset's decoded rows kept
    for the job (app/training/row_cache.py: the same chunks, bitwise), read through instead of the files."""

    data: StreamedDataset
    split: RowSplit
    encode: Callable[[np.ndarray], np.ndarray]
    labels: np.ndarray | None = None
    cache: RowCache | None = None
    rows: int = field(init=False)
    draws: AlignedBuffers = field(init=False, repr=False, compare=False)  # shuffled rows' memory, epoch after epoch

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", self.split.count(self.data.rows))
        object.__setattr__(self, "draws", AlignedBuffers(DRAW_BUFFERS))

    @property
    def shuffle_rows(self) -> int:
        return max(1, SHUFFLE_BYTES // (4 * max(1, math.prod(self.data.feature_shape))))

    def batches(self, *, batch_size: int, seed: int, epoch: int, shuffle: bool) -> Iterator[XY]:
        """One epoch's batches: ceil(rows / batch_size) of them, all full but the last. Cut anew into batches
        of another size, they are the same rows in the same order: batched(batches(..., n), m) == batches(..., m)."""
        rng = np.random.default_rng([seed, epoch])
        units = self.data.units
        order = rng.permutation(len(units)) if shuffle else np.arange(len(units))
        rows = self._chunks(units[int(i)] for i in order)
        capacity = max(1, min(self.shuffle_rows, self.rows))
        for x, y in batched(shuffled(rows, capacity, rng, self.draws) if shuffle else rows, batch_size):
            yield x, self.encode(self.labels[y] if self.labels is not None else y)

    def _chunks(self, units: Iterable[Unit]) -> Iterator[XY]:
        """This split's rows of the units, in chunks of at most `READ_ROWS`."""
        for unit in units:
            read = (
                self.cache.unit_chunks(unit)
                if self.cache is not None
                else self.data.unit_chunks(unit, batch_rows=READ_ROWS)
            )
            for first_row, x, y in read:
                keep = self.split.mask(first_row, len(x))
                if not keep.all():
                    x, y = x[keep], y[keep]
                if len(x):
                    yield x, y


def shuffled(
    chunks: Iterable[XY], capacity: int, rng: np.random.Generator, draws: AlignedBuffers | None = None
) -> Iterator[XY]:
    """The chunks' rows through a shuffle buffer of `capacity` rows: once it is full, each chunk takes the slots of
    as many rows drawn at random, which leave in the order drawn; at the end the rest leave in a random order. They
    leave in blocks of `DRAW_ROWS` (at most `capacity`; the last one shorter) gathered into `draws`, whatever the
    chunks' sizes (a split's share of a chunk is any size): batches cut from a block are views of it."""
    blocks = _Blocks(draws if draws is not None else AlignedBuffers(DRAW_BUFFERS), max(1, min(capacity, DRAW_ROWS)))
    bx = by = np.empty(0)
    held = 0
    for x, y in chunks:
        if held == 0:
            bx, by = np.empty((capacity, *x.shape[1:]), x.dtype), np.empty((capacity, *y.shape[1:]), y.dtype)
        fill = min(capacity - held, len(x))
        bx[held : held + fill], by[held : held + fill] = x[:fill], y[:fill]
        held += fill
        for start in range(fill, len(x), capacity):
            slots = rng.choice(capacity, size=min(capacity, len(x) - start), replace=False)
            yield from blocks.gather(bx, by, slots)  # copies: the slots are refilled next
            bx[slots], by[slots] = x[start : start + len(slots)], y[start : start + len(slots)]
    yield from blocks.gather(bx, by, rng.permutation(held))
    yield from blocks.rest()


class _Blocks:
    """Rows gathered from a shuffle buffer into blocks of `rows`, each handed out once full. A block's features
    lie in a page-aligned buffer that is reused once nothing refers to it: half the CPU of a fresh array each time
    (malloc maps and the kernel zeroes its pages: TensorFlow's generator dataset lowers malloc's mmap threshold to
    128 KiB), and TensorFlow takes a 64-byte-aligned array without copying it (its `py_func` copies any other)."""

    def __init__(self, buffers: AlignedBuffers, rows: int) -> None:
        self.buffers, self.rows = buffers, rows
        self.x = self.y = np.empty(0)
        self.filled = 0

    def gather(self, bx: np.ndarray, by: np.ndarray, slots: np.ndarray) -> Iterator[XY]:
        """Rows `slots` of (bx, by), appended to the blocks; the blocks they fill."""
        at = 0
        while at < len(slots):
            if self.filled == 0:
                size = self.rows * bx[0].nbytes
                self.x = self.buffers.take(size).view(bx.dtype).reshape(self.rows, *bx.shape[1:])
                self.y = np.empty((self.rows, *by.shape[1:]), by.dtype)
            part = slots[at : at + self.rows - self.filled]
            end = self.filled + len(part)
            np.take(bx, part, axis=0, out=self.x[self.filled : end], mode="clip")  # in range; "raise" buffers `out`
            self.y[self.filled : end] = by[part]
            self.filled, at = end, at + len(part)
            if self.filled == self.rows:
                self.filled = 0
                yield self.x, self.y

    def rest(self) -> Iterator[XY]:
        """The last block, short, if any rows are in it."""
        if self.filled:
            yield self.x[: self.filled], self.y[: self.filled]
            self.filled = 0


def batched(parts: Iterable[XY], batch_size: int) -> Iterator[XY]:
    """The parts' rows, in order, cut into batches of `batch_size` (views where a batch lies in one part), the last
    one possibly short."""
    rest: XY | None = None  # fewer than batch_size rows carried into the next part
    for x, y in parts:
        if rest is not None:
            need = batch_size - len(rest[0])
            rest = (np.concatenate([rest[0], x[:need]]), np.concatenate([rest[1], y[:need]]))
            x, y = x[need:], y[need:]
            if len(rest[0]) < batch_size:
                continue
            yield rest
            rest = None
        full = len(x) // batch_size * batch_size
        for start in range(0, full, batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        if full < len(x):
            rest = (x[full:].copy(), y[full:].copy())  # a copy: a view would hold the whole part
    if rest is not None:
        yield rest
