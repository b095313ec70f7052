"""Fit a built model on a dataset, reporting each finished epoch as it happens."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from app.datasets.types import Dataset
from app.training.spec import TrainingSpec

EpochReport = Callable[[int, dict[str, float | None]], None]


@dataclass
class FitResult:
    model: keras.Model
    history: dict[str, list[float | None]]
    final: dict[str, float | None]


class _EpochReporter(keras.callbacks.Callback):
    """Hands each epoch's logs (1-based epoch) to the job store as soon as the epoch ends."""

    def __init__(self, report: EpochReport) -> None:
        super().__init__()
        self._report = report

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._report(epoch + 1, _clean(logs or {}))


def _clean(logs: dict[str, float]) -> dict[str, float | None]:
    """JSON-safe values: a diverged run's NaN or infinite loss is recorded as null (JSON has no NaN)."""
    return {k: float(v) if math.isfinite(float(v)) else None for k, v in logs.items()}


def encode_targets(spec: TrainingSpec, data: Dataset) -> np.ndarray:
    """Targets in the form the loss expects: indices, one-hot rows, a 0/1 column, or float values."""
    loss = spec.loss_config.name
    if data.task == "regression":
        return data.y.reshape(data.rows, -1).astype(np.float32) if data.y.ndim == 1 else data.y
    if loss == "categorical_crossentropy":
        return np.eye(data.n_classes, dtype=np.float32)[data.y]
    if loss == "binary_crossentropy":
        return data.y.astype(np.float32).reshape(-1, 1)
    return data.y


def split(spec: TrainingSpec, data: Dataset, y: np.ndarray) -> tuple[tuple, tuple | None]:
    """Train/validation split, shuffled with the spec's seed and stratified by class when possible."""
    fraction = spec.fit.validation_split
    if fraction == 0:
        return (data.x, y), None
    stratify = data.y if data.task == "classification" and np.bincount(data.y).min() >= 2 else None
    try:
        x_tr, x_val, y_tr, y_val = train_test_split(
            data.x, y, test_size=fraction, random_state=spec.seed, stratify=stratify
        )
    except ValueError:  # too few rows per class for a stratified split
        x_tr, x_val, y_tr, y_val = train_test_split(data.x, y, test_size=fraction, random_state=spec.seed)
    return (x_tr, y_tr), (x_val, y_val)


def fit_model(model: keras.Model, spec: TrainingSpec, data: Dataset, report: EpochReport) -> FitResult:
    (x, y), validation = split(spec, data, encode_targets(spec, data))
    callbacks: list[keras.callbacks.Callback] = [_EpochReporter(report)]
    stopping = None
    if spec.fit.early_stopping is not None:
        es = spec.fit.early_stopping
        stopping = keras.callbacks.EarlyStopping(
            monitor=es.monitor,
            patience=es.patience,
            min_delta=es.min_delta,
            mode=es.mode,
            restore_best_weights=es.restore_best_weights,
        )
        callbacks.append(stopping)
    result = model.fit(
        x,
        y,
        validation_data=validation,
        epochs=spec.fit.epochs,
        batch_size=spec.fit.batch_size,
        shuffle=spec.fit.shuffle,
        callbacks=callbacks,
        verbose=0,
    )
    history = {k: [_clean({k: v})[k] for v in values] for k, values in result.history.items()}
    best = len(next(iter(history.values()))) - 1
    if stopping is not None and stopping.restore_best_weights and stopping.best_epoch is not None:
        best = min(int(stopping.best_epoch), best)
    return FitResult(model, history, {k: values[best] for k, values in history.items()})
