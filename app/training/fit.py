"""Fit one compiled model, reporting each finished epoch as it happens."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from app.training.spec import TrainingSpec

Logs = dict[str, float | None]
EpochReport = Callable[[int, Logs], None]
XY = tuple[np.ndarray, np.ndarray]


@dataclass
class FitResult:
    model: keras.Model
    history: dict[str, list[float | None]]
    final: Logs
    epochs_run: int  # epochs until the kept weights (the best epoch when early stopping restores it)


def clean(logs: dict[str, float]) -> Logs:
    """JSON-safe values: a diverged run's NaN or infinite loss is recorded as null (JSON has no NaN)."""
    return {k: float(v) if math.isfinite(float(v)) else None for k, v in logs.items()}


class _EpochReporter(keras.callbacks.Callback):
    """Hands each epoch's logs (1-based epoch) to the job store as soon as the epoch ends."""

    def __init__(self, report: EpochReport) -> None:
        super().__init__()
        self._report = report

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._report(epoch + 1, clean(logs or {}))


def _callbacks(spec: TrainingSpec, report: EpochReport) -> tuple[list[keras.callbacks.Callback], object]:
    callbacks: list[keras.callbacks.Callback] = []
    stopping = None
    if (es := spec.fit.early_stopping) is not None:
        stopping = keras.callbacks.EarlyStopping(
            monitor=es.monitor,
            patience=es.patience,
            min_delta=es.min_delta,
            mode=es.mode,
            restore_best_weights=es.restore_best_weights,
        )
        callbacks.append(stopping)
    if (plateau := spec.fit.reduce_lr_on_plateau) is not None:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=plateau.monitor,
                factor=plateau.factor,
                patience=plateau.patience,
                min_delta=plateau.min_delta,
                min_lr=plateau.min_lr,
            )
        )
    # Last, so that it reports what the others added to the logs (ReduceLROnPlateau adds `learning_rate`).
    return [*callbacks, _EpochReporter(report)], stopping


def fit_once(
    model: keras.Model, spec: TrainingSpec, train: XY, validation: XY | None, epochs: int, report: EpochReport
) -> FitResult:
    callbacks, stopping = _callbacks(spec, report)
    result = model.fit(
        *train,
        validation_data=validation,
        epochs=epochs,
        batch_size=spec.fit.batch_size,
        shuffle=spec.fit.shuffle,
        callbacks=callbacks,
        verbose=0,
    )
    history = {k: [clean({k: v})[k] for v in values] for k, values in result.history.items()}
    best = len(next(iter(history.values()))) - 1
    if isinstance(stopping, keras.callbacks.EarlyStopping) and stopping.restore_best_weights:
        if stopping.best_epoch is not None:
            best = min(int(stopping.best_epoch), best)
    return FitResult(model, history, {k: values[best] for k, values in history.items()}, best + 1)
