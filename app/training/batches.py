"""Batches whose order is a function of (seed, epoch) alone, so a resumed job sees the same order it would have.

Keras' own shuffling lives in a tf.data iterator that a checkpoint cannot capture; this PyDataset draws each
epoch's permutation from `numpy.random.default_rng([seed, epoch])`, so epoch 7 is shuffled the same way whether
the job ran straight through or resumed after epoch 6.
"""

from __future__ import annotations

import math

import keras
import numpy as np


def epoch_order(rows: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order in which epoch `epoch` (0-based) visits the rows: a function of (seed, epoch) alone."""
    if not shuffle:
        return np.arange(rows)
    return np.random.default_rng([seed, epoch]).permutation(rows)


class EpochBatches(keras.utils.PyDataset):
    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, first_epoch: int, shuffle: bool
    ) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seed, self.epoch, self.shuffle = seed, first_epoch, shuffle
        self._order = epoch_order(len(x), seed, first_epoch, shuffle)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = epoch_order(len(self.x), self.seed, self.epoch, self.shuffle)
