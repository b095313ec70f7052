"""Arrays for training: targets encoded for the loss, and seeded, stratified held-out splits and folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from app.datasets.types import Dataset
from app.errors import InvalidSpec

Indices = np.ndarray


@dataclass(frozen=True)
class Arrays:
    """Features, targets encoded for the loss, and the raw class indices (for stratifying) of some rows."""

    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray

    def take(self, rows: Indices) -> Arrays:
        return Arrays(self.x[rows], self.y[rows], self.labels[rows])

    @property
    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y


def encode_targets(y: np.ndarray, task: str, loss: str, n_classes: int) -> np.ndarray:
    """Targets in the form the loss expects: indices, one-hot rows, a 0/1 column, or float values."""
    if task == "regression":
        return y.reshape(len(y), -1).astype(np.float32) if y.ndim == 1 else y.astype(np.float32)
    if loss == "categorical_crossentropy":
        return np.eye(n_classes, dtype=np.float32)[y]
    if loss == "binary_crossentropy":
        return y.astype(np.float32).reshape(-1, 1)
    return y


def arrays_for(data: Dataset, loss: str, classes: list[str] | None = None) -> Arrays:
    """Arrays of `data`, with class indices mapped onto `classes` (the training set's) when given."""
    labels = data.y
    if classes is not None and data.classes is not None:
        position = {name: i for i, name in enumerate(classes)}
        missing = sorted(set(data.classes) - set(position))
        if missing:
            raise InvalidSpec(f"labels {missing} do not occur in the training data")
        labels = np.array([position[data.classes[i]] for i in data.y], dtype=np.int64)
    n_classes = len(classes if classes is not None else data.classes or [])
    return Arrays(data.x, encode_targets(labels, data.task, loss, n_classes), labels)


def _stratify(arrays: Arrays, task: str, folds: int = 2) -> np.ndarray | None:
    if task != "classification":
        return None
    counts = np.bincount(arrays.labels)
    return arrays.labels if counts[counts > 0].min() >= folds else None


def holdout(arrays: Arrays, fraction: float, seed: int | None, task: str) -> tuple[Indices, Indices]:
    """Row indices (kept, held out), shuffled with the seed and stratified by class when every class allows."""
    rows = np.arange(len(arrays.x))
    kept, held = train_test_split(rows, test_size=fraction, random_state=seed, stratify=_stratify(arrays, task))
    return np.sort(kept), np.sort(held)


def folds(arrays: Arrays, k: int, stratified: bool, seed: int | None, task: str) -> list[tuple[Indices, Indices]]:
    """(train, validation) row indices of each of k folds."""
    shuffle = {"shuffle": True, "random_state": seed}
    labels = _stratify(arrays, task, k) if stratified else None
    splitter = StratifiedKFold(k, **shuffle) if labels is not None else KFold(k, **shuffle)
    return list(splitter.split(arrays.x, labels))
