"""Fit one model for one phase of a job, reporting and checkpointing each finished epoch as it happens."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from app.training.backends import auto_steps_per_execution
from app.training.batches import EpochClock, epoch_batches
from app.training.checkpoints import Checkpoints
from app.training.epochs import StreamedRows
from app.training.precision import build_in_precision, to_float32
from app.training.spec import TrainingSpec
from app.training.streaming import StreamBatches, TfStream

Logs = dict[str, float | None]
History = dict[str, list[float | None]]


@dataclass(frozen=True)
class EpochTime:
    """How long one epoch took (training and validation), over how many training rows."""

    seconds: float
    samples: int


EpochReport = Callable[[int, Logs, EpochTime], None]
XY = tuple[np.ndarray, np.ndarray]
Rows = XY | StreamedRows  # arrays in memory, or rows of a dataset streamed from its files


@dataclass
class FitResult:
    model: keras.Model
    history: History
    final: Logs
    epochs_run: int  # epochs until the kept weights (the best epoch when early stopping restores it)


@dataclass
class Phase:
    """One model's training inside a job: a cross-validation fold (`fold-2`) or the published model (`final`)."""

    name: str
    epochs: int
    report: EpochReport
    shuffle_seed: int
    checkpoints: Checkpoints | None = None
    on_resume: Callable[[int], None] = field(default=lambda _epoch: None)
    tensorboard_dir: Path | None = None


def clean(logs: dict[str, float]) -> Logs:
    """JSON-safe values: a diverged run's NaN or infinite loss is recorded as null (JSON has no NaN)."""
    return {k: float(v) if math.isfinite(float(v)) else None for k, v in logs.items()}


class _Recorder(keras.callbacks.Callback):
    """After each epoch: add it to the history, report it to the job, then checkpoint the model.

    Reporting before checkpointing means a crash in between re-runs (and re-reports) that epoch: the store
    overwrites it, so the history has no gap and no double.
    """

    def __init__(self, phase: Phase, history: History, samples: int) -> None:
        super().__init__()
        self.phase, self.history, self.samples = phase, history, samples
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        values = clean(logs or {})
        for name, value in values.items():
            self.history.setdefault(name, []).append(value)
        self.phase.report(epoch + 1, values, EpochTime(time.perf_counter() - self.started, self.samples))
        if self.phase.checkpoints is not None:
            self.phase.checkpoints.save(self.phase.name, self.model, epoch + 1, self.history)


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback without its per-batch hooks (it writes per epoch here anyway): a callback
    with an `on_train_batch_end` makes Keras wait for every batch and copy its logs to Python."""

    on_train_batch_begin = keras.callbacks.Callback.on_train_batch_begin
    on_train_batch_end = keras.callbacks.Callback.on_train_batch_end
    on_test_batch_begin = keras.callbacks.Callback.on_test_batch_begin


def epoch_callbacks(spec: TrainingSpec, phase: Phase) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = []
    if phase.tensorboard_dir is not None:
        callbacks.append(EpochTensorBoard(log_dir=str(phase.tensorboard_dir), write_graph=False, profile_batch=0))
    if (es := spec.fit.early_stopping) is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=es.monitor,
                patience=es.patience,
                min_delta=es.min_delta,
                mode=es.mode,
                restore_best_weights=es.restore_best_weights,
            )
        )
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
    return callbacks


def kept_epoch(callbacks: list[keras.callbacks.Callback], epochs_done: int) -> int:
    """Index of the epoch whose weights the model holds: the best one if early stopping restored it."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.restore_best_weights:
            if callback.best_epoch is not None and callback.best_weights is not None:
                return min(int(callback.best_epoch), epochs_done - 1)
    return epochs_done - 1


def steps_per_execution(spec: TrainingSpec, model: keras.Model, rows: int) -> int:
    requested = spec.fit.steps_per_execution
    steps_per_epoch = math.ceil(rows / spec.fit.batch_size)
    if requested == "auto":
        return auto_steps_per_execution(
            params=model.count_params(), batch_size=spec.fit.batch_size, steps_per_epoch=steps_per_epoch
        )
    return min(requested, steps_per_epoch)


def row_count(rows: Rows) -> int:
    return rows.rows if isinstance(rows, StreamedRows) else len(rows[0])


def fit_once(
    make_model: Callable[[], keras.Model], spec: TrainingSpec, train: Rows, validation: Rows | None, phase: Phase
) -> FitResult:
    """Train a fresh model, or resume the phase's checkpoint, up to `phase.epochs`."""
    resumed = phase.checkpoints.load(phase.name) if phase.checkpoints is not None else None
    if resumed is not None:
        model, start, history = resumed
        phase.on_resume(start)
    else:
        model, start, history = build_in_precision(make_model, spec.precision), 0, {}
    rows, batch_size = row_count(train), spec.fit.batch_size
    clock = EpochClock(rows, phase.shuffle_seed, start, spec.fit.shuffle)
    callbacks = [clock, *epoch_callbacks(spec, phase)]
    # The recorder goes last, so that it sees what the others added to the logs (e.g. `learning_rate`).
    callbacks.append(_Recorder(phase, history, rows))
    model.steps_per_execution = steps_per_execution(spec, model, rows)
    model.train_function = None
    streams: list[StreamBatches | TfStream] = []
    if isinstance(train, StreamedRows):
        kind = TfStream if keras.backend.backend() == "tensorflow" else StreamBatches
        stream = kind(train, batch_size=batch_size, seed=phase.shuffle_seed, shuffle=spec.fit.shuffle, clock=clock)
        streams.append(stream)
        inputs: Any = stream.dataset if isinstance(stream, TfStream) else stream
    else:
        inputs = epoch_batches(*train, batch_size, clock)
    if isinstance(validation, StreamedRows):
        streams.append(StreamBatches(validation, batch_size=batch_size, seed=phase.shuffle_seed, shuffle=False))
    validation_data = streams[-1] if isinstance(validation, StreamedRows) else validation
    try:
        model.fit(  # shuffle=False: the batches are shuffled each epoch by the seed; Keras would do it unseeded
            inputs,
            validation_data=validation_data,
            epochs=phase.epochs,
            initial_epoch=start,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,
        )
    finally:
        for stream in streams:
            stream.close()
        if phase.checkpoints is not None:
            phase.checkpoints.flush()
    epochs_done = len(next(iter(history.values()), []))
    kept = kept_epoch(callbacks, epochs_done)
    return FitResult(to_float32(model), history, {k: values[kept] for k, values in history.items()}, kept + 1)


def evaluate_streamed(model: keras.Model, rows: StreamedRows, batch_size: int) -> Logs:
    """The model's loss and compiled metrics on streamed rows (a held-out test split)."""
    stream = StreamBatches(rows, batch_size=batch_size, seed=0, shuffle=False)
    try:
        evaluated = model.evaluate(stream, verbose=0, return_dict=True)
    finally:
        stream.close()
    return {k: float(v) for k, v in evaluated.items()}
