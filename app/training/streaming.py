"""Batches of a dataset too big for memory (`StreamedDataset`), in an order that is a function of (seed, epoch).

An epoch visits the dataset's read units (Parquet row groups, CSV byte ranges) in a permutation drawn from
`numpy.random.default_rng([seed, epoch])`, then shuffles windows of about `SHUFFLE_BYTES` of rows with the same
generator before cutting them into batches (rows left over from a window start the next one). Which rows train,
validate or test is a hash of each row's global index (`RowSplit`). So epoch 7 of a job resumed after epoch 6 gets
exactly the batches an uninterrupted run gets, and no permutation of all rows is ever held.

The input is a `keras.utils.PyDataset`, which both Keras backends take (a tf.data pipeline would need TensorFlow,
which a JAX-only machine may lack). Its batches come from a background thread that reads, decodes and shuffles
ahead into a bounded queue, and that runs on into the next epoch while Keras validates and checkpoints, so the
training step does not wait on I/O. Keras may ask for the first batches of an epoch twice (TensorFlow reads two
to learn their shapes, JAX one to build its metrics); those are kept and handed out again.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from app.datasets.streamed import RowSplit, StreamedDataset
from app.training.batches import EpochClock

XY = tuple[np.ndarray, np.ndarray]
SHUFFLE_BYTES = 64 * 2**20  # rows shuffled together: beyond a row group, bounded whatever the dataset's size
PREFETCH_BATCHES = 16
KEPT_BATCHES = 2  # data_adapter_utils.NUM_BATCHES_FOR_TENSOR_SPEC: what TensorFlow's adapter reads first
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


class Prefetcher:
    """Runs `make_pass(p)` for p = first, first + 1, ... in a background thread, `PREFETCH_BATCHES` ahead, and
    hands out batch i of pass p when asked in order; asked for batch 0 of a pass it is not at, it starts over
    there."""

    def __init__(self, make_pass: Callable[[int], Iterator[XY]], steps: int) -> None:
        self.make_pass, self.steps = make_pass, steps
        self.at: tuple[int, int] | None = None  # the (pass, batch) the queue hands out next
        self.kept: dict[tuple[int, int], XY] = {}
        self._stop = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(PREFETCH_BATCHES)
        self._thread: threading.Thread | None = None

    def get(self, pass_: int, index: int) -> XY:
        if (pass_, index) in self.kept:
            return self.kept[(pass_, index)]
        if self.at != (pass_, index):
            if index != 0:
                raise RuntimeError(f"streamed batches asked out of order: batch {index} of pass {pass_}, at {self.at}")
            self._start(pass_)
        key, batch = self._queue.get()
        if isinstance(batch, BaseException):
            self.at = None
            raise batch
        assert key == (pass_, index), (key, pass_, index)
        self.at = (pass_, index + 1) if index + 1 < self.steps else (pass_ + 1, 0)
        if index < KEPT_BATCHES:
            self.kept = {k: v for k, v in self.kept.items() if k[0] == pass_}
            self.kept[key] = batch
        return batch

    def _start(self, first: int) -> None:
        self.close()
        self._stop = stop = threading.Event()
        self._queue = batches = queue.Queue(PREFETCH_BATCHES)
        self._thread = threading.Thread(
            target=self._produce, args=(first, stop, batches), name="maas-stream", daemon=True
        )
        self._thread.start()
        self.at = (first, 0)

    def _produce(self, first: int, stop: threading.Event, batches: queue.Queue[Any]) -> None:
        pass_ = first
        try:
            while not stop.is_set():
                count = 0
                for count, batch in enumerate(self.make_pass(pass_), start=1):
                    if not _put(batches, ((pass_, count - 1), batch), stop):
                        return
                if count != self.steps:
                    raise RuntimeError(f"pass {pass_} gave {count} batches, not {self.steps}")
                pass_ += 1
        except BaseException as exc:  # handed to the training thread, which raises it
            _put(batches, ((pass_, -1), exc), stop)

    def close(self) -> None:
        """Stop the reading thread (it may be blocked on a full queue) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.at = None


def _put(batches: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Queue `item` unless told to stop first; whether it was queued."""
    while not stop.is_set():
        try:
            batches.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


class StreamBatches(keras.utils.PyDataset):
    """Keras' view of streamed batches. Training (`clock` given): pass p is the clock's epoch, shuffled by
    (seed, epoch). Evaluation: every pass is the same order, and a pass starts over once the last one ended."""

    def __init__(
        self, rows: StreamedRows, *, batch_size: int, seed: int, shuffle: bool, clock: EpochClock | None = None
    ) -> None:
        super().__init__()
        self.clock, self.steps = clock, math.ceil(rows.rows / batch_size)
        epoch = (lambda p: p) if clock is not None else (lambda _p: 0)
        self.prefetcher = Prefetcher(
            lambda p: rows.batches(batch_size=batch_size, seed=seed, epoch=epoch(p), shuffle=shuffle), self.steps
        )
        self._pass, self._last = 0, -1

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> XY:
        if self.clock is not None:
            self._pass = self.clock.epoch
        elif index == 0 and self._last == self.steps - 1:
            self._pass += 1
        self._last = index
        return self.prefetcher.get(self._pass, index)

    def close(self) -> None:
        self.prefetcher.close()
