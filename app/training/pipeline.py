"""The whole training run of one spec: held-out test rows, the LR range test, cross-validation, the final fit.

Everything that happens is told to a `Reporter` (the worker child writes it to the job store) as it happens.
With `Checkpoints`, every finished epoch and phase is saved, and a rerun of the same job picks up from there.
Every model it trains comes from the job's `ModelSource`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median, pstdev
from typing import Any

import keras
import numpy as np

from app.datasets.streamed import RowSplit, StreamedDataset
from app.datasets.types import Dataset
from app.training.build import seed_everything
from app.training.checkpoints import Checkpoints
from app.training.data import Arrays, arrays_for, encode_targets, folds, holdout
from app.training.epochs import READ_ROWS, StreamedRows
from app.training.fit import EpochTime, FitResult, Logs, Phase, evaluate_streamed, fit_once
from app.training.lr_range import lr_range_test
from app.training.model_source import ModelSource
from app.training.row_cache import RowCaches
from app.training.spec import TrainingSpec

AnyDataset = Dataset | StreamedDataset
log = logging.getLogger("maas.child")


class Reporter:
    """Receives what training does as it happens, wherever it trains; this base ignores it all (training outside
    a job, or a data-parallel worker other than rank 0)."""

    def epoch(
        self, epoch: int, epochs: int, logs: Logs, fold: int | None, folds: int | None, took: EpochTime | None = None
    ) -> None: ...

    def resumed(self, fold: int | None, epoch: int) -> None: ...

    def lr_range(self, curve: dict[str, Any]) -> None: ...

    def cross_validation(self, cv: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    """The model to publish and everything measured on the way; `metadata`: more facts for the version's
    metadata (e.g. each data-parallel replica's weight hash)."""

    fit: FitResult
    learning_rate: Any
    test: Logs | None = None
    cv: dict[str, Any] | None = None
    lr_range: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    spec: TrainingSpec
    data: AnyDataset
    reporter: Reporter
    source: ModelSource
    checkpoints: Checkpoints | None
    shuffle_seed: int
    tensorboard_dir: Path | None

    def model_factory(self, learning_rate: Any, train_x: np.ndarray) -> Callable[[], keras.Model]:
        return lambda: self.source.build(learning_rate=learning_rate, train_x=train_x)

    def phase(self, name: str, epochs: int, fold: int | None, folds_count: int | None) -> Phase:
        return Phase(
            name=name,
            epochs=epochs,
            report=lambda epoch, logs, took: self.reporter.epoch(epoch, epochs, logs, fold, folds_count, took),
            shuffle_seed=self.shuffle_seed,
            checkpoints=self.checkpoints,
            on_resume=lambda epoch: self.reporter.resumed(fold, epoch),
            tensorboard_dir=self.tensorboard_dir / name if self.tensorboard_dir is not None else None,
        )

    def remembered(self, key: str) -> Any:
        return self.checkpoints.state().get(key) if self.checkpoints is not None else None

    def remember(self, key: str, value: Any) -> None:
        if self.checkpoints is not None:
            self.checkpoints.remember(key, value)


def _summarize(folds_done: list[dict[str, Any]]) -> dict[str, Any]:
    names = [k for k in folds_done[0]["metrics"] if all(f["metrics"].get(k) is not None for f in folds_done)]
    return {
        "folds": folds_done,
        "mean": {k: mean(f["metrics"][k] for f in folds_done) for k in names},
        "std": {k: pstdev(f["metrics"][k] for f in folds_done) for k in names},
    }


def _cross_validate(run: _Run, train: Arrays, rate: Any) -> tuple[dict[str, Any], int]:
    """k folds, each a fresh model; returns the summary and the epochs the final model should train."""
    spec = run.spec
    assert spec.cross_validation is not None
    k = spec.cross_validation.folds
    done: list[dict[str, Any]] = run.remembered("folds") or []
    splits = folds(train, k, spec.cross_validation.stratified, spec.seed, run.data.task)
    for i, (rows, held) in enumerate(splits, start=1):
        if i <= len(done):
            continue  # finished before an interruption
        fold_train, fold_val = train.take(rows), train.take(held)
        phase = run.phase(f"fold-{i}", spec.fit.epochs, i, k)
        result = fit_once(run.model_factory(rate, fold_train.x), spec, fold_train.xy, fold_val.xy, phase)
        done.append({"fold": i, "metrics": result.final, "history": result.history, "epochs": result.epochs_run})
        run.remember("folds", done)
    cv = _summarize(done)
    run.reporter.cross_validation(cv)
    # Early stopping needs validation data the final fit does not have: train as long as the folds did.
    epochs = int(median(f["epochs"] for f in done)) if spec.fit.early_stopping else spec.fit.epochs
    return cv, epochs


def split_data(
    spec: TrainingSpec, data: Dataset, validation_data: AnyDataset | None
) -> tuple[Arrays, Arrays | StreamedRows | None, Arrays | None]:
    """(train, validation, test) rows: test held out first, then validation by split or a second dataset."""
    loss = spec.loss_config.name
    train_rows, test = arrays_for(data, loss), None
    if spec.fit.test_split > 0:
        kept, held = holdout(train_rows, spec.fit.test_split, spec.seed, data.task)
        train_rows, test = train_rows.take(kept), train_rows.take(held)
    validation: Arrays | StreamedRows | None = None
    if spec.fit.validation_split > 0:
        kept, held = holdout(train_rows, spec.fit.validation_split, spec.seed, data.task)
        train_rows, validation = train_rows.take(kept), train_rows.take(held)
    elif isinstance(validation_data, StreamedDataset):
        validation = streamed_validation(spec, data, validation_data)
    elif validation_data is not None:
        validation = arrays_for(validation_data, loss, data.classes)
    return train_rows, validation, test


def _encoder(spec: TrainingSpec, data: AnyDataset) -> Callable[[np.ndarray], np.ndarray]:
    loss, task, n_classes = spec.loss_config.name, data.task, data.n_classes
    return lambda y: encode_targets(y, task, loss, n_classes)


def streamed_validation(
    spec: TrainingSpec, data: AnyDataset, validation: StreamedDataset, caches: RowCaches | None = None
) -> StreamedRows:
    """Every row of a streamed second dataset, its labels mapped onto the training data's classes."""
    labels = None
    if validation.classes is not None and data.classes is not None:
        position = {name: i for i, name in enumerate(data.classes)}
        labels = np.array([position[name] for name in validation.classes], dtype=np.int64)
    cache = caches.open(validation) if caches is not None else None
    return StreamedRows(validation, RowSplit(), _encoder(spec, data), labels, cache)


def split_streamed(
    spec: TrainingSpec,
    data: StreamedDataset,
    validation_data: AnyDataset | None,
    seed: int,
    caches: RowCaches | None = None,
) -> tuple[StreamedRows, Arrays | StreamedRows | None, StreamedRows | None]:
    """(train, validation, test) rows of a streamed dataset, each row's side a hash of its index and the seed:
    test keys below test_split, then validation_split of the rest, then training; all three read through one
    row cache of the dataset (from `caches`, where given)."""
    fit, encode = spec.fit, _encoder(spec, data)
    cache = caches.open(data) if caches is not None else None
    test_end = fit.test_split
    validation_end = test_end + fit.validation_split * (1 - test_end)
    test = StreamedRows(data, RowSplit(0.0, test_end, seed), encode, cache=cache) if test_end > 0 else None
    validation: Arrays | StreamedRows | None = None
    if fit.validation_split > 0:
        validation = StreamedRows(data, RowSplit(test_end, validation_end, seed), encode, cache=cache)
    elif isinstance(validation_data, StreamedDataset):
        validation = streamed_validation(spec, data, validation_data, caches)
    elif validation_data is not None:
        validation = arrays_for(validation_data, spec.loss_config.name, data.classes)
    return StreamedRows(data, RowSplit(validation_end, 1.0, seed), encode, cache=cache), validation, test


def moment_rows(data: StreamedDataset) -> np.ndarray:
    """Two rows whose mean and population variance are the profiled ones: what a Normalization layer adapts
    on for a streamed dataset, instead of a pass over all its rows."""
    mean, std = data.moments
    return np.stack([mean - std, mean + std]).reshape(2, *data.feature_shape)


def _learning_rate(run: _Run, train: Arrays) -> tuple[Any, dict[str, Any] | None]:
    rate = run.spec.optimizer.learning_rate
    if rate != "auto":
        return rate, None
    curve = run.remembered("lr_range_test")
    if curve is None:
        fit = run.spec.fit
        curve = lr_range_test(
            run.source, *train.xy, batch_size=fit.batch_size, config=fit.lr_range_test, seed=run.spec.seed
        )
        run.remember("lr_range_test", curve)
    run.reporter.lr_range(curve)
    return curve["chosen"], curve


def train(
    spec: TrainingSpec,
    data: AnyDataset,
    validation_data: AnyDataset | None,
    *,
    reporter: Reporter,
    source: ModelSource,
    checkpoints: Checkpoints | None = None,
    tensorboard_dir: Path | None = None,
    row_cache_dir: Path | None = None,
) -> Outcome:
    """`row_cache_dir`: where a streamed dataset's decoded rows are kept for the epochs after the first (emptied
    first, removed at the end); None streams every epoch from the files."""
    seed_everything(spec.seed)
    if spec.seed is not None:
        shuffle_seed = spec.seed
    else:  # unseeded: random, but remembered in the checkpoint so that a resumed job keeps its order
        shuffle_seed = checkpoints.state()["shuffle_seed"] if checkpoints else secrets.randbelow(2**31)
    run = _Run(spec, data, reporter, source, checkpoints, shuffle_seed, tensorboard_dir)
    if isinstance(data, StreamedDataset):
        return _train_streamed(run, data, validation_data, row_cache_dir)
    train_rows, validation, test = split_data(spec, data, validation_data)
    rate, curve = _learning_rate(run, train_rows)

    epochs, folds_count, cv = spec.fit.epochs, None, None
    if spec.cross_validation is not None:
        cv, epochs = _cross_validate(run, train_rows, rate)
        folds_count = spec.cross_validation.folds

    phase = run.phase("final", epochs, None, folds_count)
    validation_rows = validation.xy if isinstance(validation, Arrays) else validation
    fitted = fit_once(run.model_factory(rate, train_rows.x), spec, train_rows.xy, validation_rows, phase)
    test_metrics = None
    if test is not None:
        evaluated = fitted.model.evaluate(*test.xy, verbose=0, return_dict=True)
        test_metrics = {k: float(v) for k, v in evaluated.items()}
    return Outcome(fitted, rate, test_metrics, cv, curve)


def _train_streamed(
    run: _Run, data: StreamedDataset, validation_data: AnyDataset | None, row_cache_dir: Path | None
) -> Outcome:
    """The final fit on a dataset read from its files (validation refuses cross-validation and the LR range test
    on one: each would be several more passes over all of it), each unit decoded once into the row cache and
    read back from it after (where the disk has room), the cache removed however training ends."""
    spec = run.spec
    with RowCaches(row_cache_dir, batch_rows=READ_ROWS) as caches:
        train_rows, validation, test = split_streamed(spec, data, validation_data, run.shuffle_seed, caches)
        message = "streaming dataset %s from %d files (%d bytes, %d read units): %d training rows"
        log.info(message, data.info.id, len(data.files), data.bytes, len(data.units), train_rows.rows)
        rate = spec.optimizer.learning_rate
        phase = run.phase("final", spec.fit.epochs, None, None)
        validation_rows = validation.xy if isinstance(validation, Arrays) else validation
        fitted = fit_once(run.model_factory(rate, moment_rows(data)), spec, train_rows, validation_rows, phase)
        test_metrics = evaluate_streamed(fitted.model, test, spec.fit.batch_size) if test is not None else None
    return Outcome(fitted, rate, test_metrics, None, None)
