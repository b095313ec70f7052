"""Epochs of a dataset too big for memory (`StreamedDataset`), in an order that is a function of (seed, epoch).

An epoch visits the dataset's read units (Parquet row groups, CSV byte ranges) in a permutation drawn from
`numpy.random.default_rng([seed, epoch])`, then shuffles windows of about `SHUFFLE_BYTES` of rows with the same
generator before cutting them into batches (rows left over from a window start the next one). Which rows train,
validate or test is a hash of each row's global index (`RowSplit`). So epoch 7 of a job resumed after epoch 6 gets
exactly the batches an uninterrupted run gets, and no permutation of all rows is ever held. No Keras here: Keras'
view of these batches is app/training/streaming.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from app.datasets.streamed import RowSplit, StreamedDataset

XY = tuple[np.ndarray, np.ndarray]
SHUFFLE_BYTES = 64 * 2**20  # rows shuffled together: beyond a row group, bounded whatever the dataset's size
READ_ROWS = 16_384


@dataclass(frozen=True)
class StreamedRows:
    """Some rows of a streamed dataset (its training, validation or test rows), targets encoded for the loss.

    `labels` maps the dataset's class indices onto the training data's (a second dataset for validation);
    `encode` turns class indices or values into what the loss expects."""

    data: StreamedDataset
    split: RowSplit
    encode: Callable[[np.ndarray], np.ndarray]
    labels: np.ndarray | None = None
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", self.split.count(self.data.rows))

    @property
    def shuffle_rows(self) -> int:
        return max(1, SHUFFLE_BYTES // (4 * max(1, math.prod(self.data.feature_shape))))

    def batches(self, *, batch_size: int, seed: int, epoch: int, shuffle: bool) -> Iterator[XY]:
        """One epoch's batches: ceil(rows / batch_size) of them, all full but the last."""
        rng = np.random.default_rng([seed, epoch])
        units = self.data.units
        order = rng.permutation(len(units)) if shuffle else np.arange(len(units))
        window: list[XY] = []
        held = 0
        for index in order:
            for first_row, x, y in self.data.unit_chunks(units[int(index)], batch_rows=READ_ROWS):
                keep = self.split.mask(first_row, len(x))
                window.append((x[keep], y[keep]))
                held += int(keep.sum())
                if held >= self.shuffle_rows:
                    rest = yield from self._cut(window, batch_size, rng if shuffle else None, last=False)
                    window, held = [rest], len(rest[0])
        yield from self._cut(window, batch_size, rng if shuffle else None, last=True)

    def _cut(self, window: list[XY], batch_size: int, rng: np.random.Generator | None, *, last: bool) -> Iterator[XY]:
        """The window's rows (shuffled) in full batches, and the last partial one at the end of the epoch;
        returns the rows left over for the next window."""
        x = np.concatenate([part[0] for part in window])
        y = np.concatenate([part[1] for part in window])
        if rng is not None:
            order = rng.permutation(len(x))
            x, y = x[order], y[order]
        full = len(x) if last else len(x) // batch_size * batch_size
        for start in range(0, full, batch_size):
            yield x[start : start + batch_size], self._targets(y[start : start + batch_size])
        return x[full:], y[full:]

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return self.encode(self.labels[y] if self.labels is not None else y)
