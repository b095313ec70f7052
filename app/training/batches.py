"""Batches whose order is a function of (seed, epoch) alone, so a resumed job sees the same order it would have.

Keras' own shuffling lives in an iterator that a checkpoint cannot capture; here each epoch's permutation is
`numpy.random.default_rng([seed, epoch])`, with the epoch taken from Keras itself (`on_epoch_begin`), so epoch 7
is shuffled the same way whether the job ran straight through or resumed after epoch 6.

The batches come as fast as Keras' own array input on each backend: on TensorFlow a tf.data pipeline gathers
them in C++ threads (a Python `PyDataset` there goes through `from_generator`, one Python call per batch); on
JAX, which feeds NumPy to its compiled step anyway, a `PyDataset` slices them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np


def epoch_order(rows: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order in which epoch `epoch` (0-based) visits the rows: a function of (seed, epoch) alone."""
    if not shuffle:
        return np.arange(rows)
    return np.random.default_rng([seed, epoch]).permutation(rows)


class EpochClock(keras.callbacks.Callback):
    """Knows the epoch Keras is in, and that epoch's row order (drawn once per epoch)."""

    def __init__(self, rows: int, seed: int, first_epoch: int, shuffle: bool) -> None:
        super().__init__()
        self.rows, self.seed, self.shuffle = rows, seed, shuffle
        self.epoch = first_epoch
        self._order: tuple[int, np.ndarray] | None = None
        self._on_epoch: list[Callable[[np.ndarray], None]] = []

    def on_each_epoch(self, hand_order: Callable[[np.ndarray], None]) -> None:
        """Have `hand_order(order)` called as each epoch begins, before its first batch is asked for."""
        self._on_epoch.append(hand_order)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        for hand_order in self._on_epoch:
            hand_order(self.order())

    def order(self) -> np.ndarray:
        if self._order is None or self._order[0] != self.epoch:
            self._order = (self.epoch, epoch_order(self.rows, self.seed, self.epoch, self.shuffle))
        return self._order[1]


class EpochBatches(keras.utils.PyDataset):
    """The batches of the clock's current epoch, sliced in Python (the JAX backend's input)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, clock: EpochClock) -> None:
        super().__init__()
        self.x, self.y, self.batch_size, self.clock = x, y, batch_size, clock

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.clock.order()[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]


def tf_batches(x: np.ndarray, y: np.ndarray, batch_size: int, clock: EpochClock) -> Any:
    """The same batches as a tf.data pipeline built as Keras builds its own for arrays: no Python inside it (the
    clock assigns each epoch's order to a variable the pipeline reads; a `from_generator` of the order cost 30-45
    ms per epoch, 10 % of an epoch at batch 512), batches of indices sliced by a reshape, rows gathered in
    parallel, and tf.data's default graph rewrites off (they serialize the pipeline, the whole array included,
    for every epoch's iterator)."""
    import tensorflow as tf

    rows, full = len(x), len(x) // batch_size
    epoch_order = tf.Variable(clock.order(), trainable=False, dtype=tf.int64)
    clock.on_each_epoch(epoch_order.assign)

    def batches_of(_: Any) -> Any:
        order = epoch_order.read_value()
        batched = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: full * batch_size], [full, batch_size]))
        return (
            batched.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size :]))
            if rows % batch_size
            else batched
        )

    arrays = tf.data.Dataset.from_tensors((x, y)).repeat()
    batches = tf.data.Dataset.zip(tf.data.Dataset.from_tensors(0).flat_map(batches_of), arrays).map(
        lambda rows_, xy: (tf.gather(xy[0], rows_), tf.gather(xy[1], rows_)), num_parallel_calls=tf.data.AUTOTUNE
    )
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    cardinality = tf.data.experimental.assert_cardinality(math.ceil(rows / batch_size))
    return batches.with_options(options).apply(cardinality).prefetch(tf.data.AUTOTUNE)


def epoch_batches(x: np.ndarray, y: np.ndarray, batch_size: int, clock: EpochClock) -> Any:
    """What to hand `model.fit` on the loaded backend."""
    if keras.backend.backend() == "tensorflow":
        return tf_batches(x, y, batch_size, clock)
    return EpochBatches(x, y, batch_size, clock)
