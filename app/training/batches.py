"""Batches whose order is a function of (seed, epoch) alone, so a resumed job sees the same order it would have.

Keras' own shuffling lives in a tf.data iterator that a checkpoint cannot capture; this PyDataset draws each
epoch's permutation from `numpy.random.default_rng([seed, epoch])`, so epoch 7 is shuffled the same way whether
the job ran straight through or resumed after epoch 6.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class EpochBatches(keras.utils.PyDataset):
    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, first_epoch: int, shuffle: bool
    ) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seed, self.epoch, self.shuffle = seed, first_epoch, shuffle
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._permutation()
