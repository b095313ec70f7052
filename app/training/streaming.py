"""Keras' input for a dataset too big for memory: the batches of `StreamedRows` (app/training/epochs.py, an
order that is a function of (seed, epoch)), read ahead in a background thread.

The batches come from a background thread that reads, decodes and shuffles ahead into a bounded queue, and that
runs on into the next epoch while Keras validates and checkpoints, so the training step does not wait on I/O.

Keras takes them as a `keras.utils.PyDataset` on JAX (and for validation and evaluation on either backend). On
TensorFlow training goes through `TfStream` instead: Keras turns a `PyDataset` into a `from_generator`, one Python
call and one tensor per batch (about a tenth of a streamed epoch's time, measured for the MLP at batch 128); here
one Python call hands over a piece of several batches' rows and tf.data cuts it into the very same batches
(`rebatch`) in C++. Keras may ask for the first batches of an epoch twice (TensorFlow reads two to learn their
shapes, JAX one to build its metrics); those are kept and handed out again.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from app.heap import keep_freed_memory
from app.training.batches import EpochClock
from app.training.epochs import DRAW_ROWS, StreamedRows

XY = tuple[np.ndarray, np.ndarray]
PREFETCH_ROWS = 2 * DRAW_ROWS  # rows come a draw at a time: one to train on while the next is drawn
KEPT_BATCHES = 2  # data_adapter_utils.NUM_BATCHES_FOR_TENSOR_SPEC: what TensorFlow's adapter reads first
PIECE_ROWS = 1024  # rows per Python call on TensorFlow, rounded down to whole batches (at least one)


class Prefetcher:
    """Runs `make_pass(p)` for p = first, first + 1, ... in a background thread, `depth` batches ahead, and
    hands out batch i of pass p when asked in order; asked for batch 0 of a pass it is not at, it starts over
    there."""

    def __init__(self, make_pass: Callable[[int], Iterator[XY]], steps: int, depth: int) -> None:
        self.make_pass, self.steps, self.depth = make_pass, steps, depth
        self.at: tuple[int, int] | None = None  # the (pass, batch) the queue hands out next
        self.kept: dict[tuple[int, int], XY] = {}
        self._stop = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(depth)
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
        self._queue = batches = queue.Queue(self.depth)
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


def read_ahead(
    rows: StreamedRows, *, batch_size: int, seed: int, shuffle: bool, epoch_of: Callable[[int], int]
) -> Prefetcher:
    """A `Prefetcher` of `rows`' batches of `batch_size`, pass p being epoch `epoch_of(p)`, `PREFETCH_ROWS` ahead."""
    return Prefetcher(
        lambda p: rows.batches(batch_size=batch_size, seed=seed, epoch=epoch_of(p), shuffle=shuffle),
        math.ceil(rows.rows / batch_size),
        depth=max(2, math.ceil(PREFETCH_ROWS / batch_size)),
    )


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
        self.clock = clock
        epoch_of = (lambda p: p) if clock is not None else (lambda _p: 0)
        self.prefetcher = read_ahead(rows, batch_size=batch_size, seed=seed, shuffle=shuffle, epoch_of=epoch_of)
        self.steps = self.prefetcher.steps
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


class TfStream:
    """TensorFlow's training input for streamed rows: the batches `StreamBatches` gives, from a tf.data pipeline
    that takes pieces of `PIECE_ROWS` rows (one Python call each, read ahead by a `Prefetcher`) and cuts them into
    batches in C++. Pass p is the clock's epoch p, shuffled by (seed, epoch)."""

    def __init__(self, rows: StreamedRows, *, batch_size: int, seed: int, shuffle: bool, clock: EpochClock) -> None:
        import tensorflow as tf

        piece = batch_size * max(1, PIECE_ROWS // batch_size)
        self.prefetcher = read_ahead(rows, batch_size=piece, seed=seed, shuffle=shuffle, epoch_of=lambda p: p)

        def epoch_pieces() -> Iterator[XY]:
            keep_freed_memory()  # again: iterating a generator dataset set malloc's mmap threshold to 128 KiB
            epoch = clock.epoch
            for index in range(self.prefetcher.steps):
                yield self.prefetcher.get(epoch, index)

        x, y = _one_row(rows)
        signature = tuple(tf.TensorSpec([None, *a.shape[1:]], tf.as_dtype(a.dtype)) for a in (x, y))
        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = False  # (as `tf_batches`)
        # No autotuning (nothing here is tuned: the prefetch has a fixed size): its model thread sleeps up to 60 s
        # between rounds, and destroying an epoch's iterator waited for it to wake, which stalled 15-70 s at the
        # start of about every other epoch of 1.3M rows (gdb: `~IteratorResource` waiting on `OptimizeLoop`).
        options.autotune.enabled = False
        self.dataset = (
            tf.data.Dataset.from_generator(epoch_pieces, output_signature=signature)
            .rebatch(batch_size)
            .with_options(options)
            .apply(tf.data.experimental.assert_cardinality(math.ceil(rows.rows / batch_size)))
            .prefetch(2)
        )

    def close(self) -> None:
        self.prefetcher.close()


def _one_row(rows: StreamedRows) -> XY:
    """A row of zeros as `rows` hands its batches out (targets encoded): their dtypes and shapes, read from nothing."""
    y = np.zeros(1, rows.data.target_dtype)
    x = np.zeros((1, *rows.data.feature_shape), np.float32)
    return x, rows.encode(rows.labels[y] if rows.labels is not None else y)
