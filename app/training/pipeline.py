"""The whole training run of one spec: held-out test rows, the LR range test, cross-validation, the final fit.

Everything that happens is told to a `Reporter` (the worker child writes it to the job store) as it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean, median, pstdev
from typing import Any, Protocol

import keras
import numpy as np

from app.datasets.types import Dataset
from app.training.build import build_model, seed_everything
from app.training.data import Arrays, arrays_for, folds, holdout
from app.training.fit import FitResult, Logs, fit_once
from app.training.lr_range import lr_range_test
from app.training.spec import TrainingSpec


class Reporter(Protocol):
    def epoch(self, epoch: int, epochs: int, logs: Logs, fold: int | None, folds: int | None) -> None: ...

    def lr_range(self, curve: dict[str, Any]) -> None: ...

    def cross_validation(self, cv: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    """The model to publish and everything measured on the way."""

    fit: FitResult
    learning_rate: Any
    test: Logs | None = None
    cv: dict[str, Any] | None = None
    lr_range: dict[str, Any] | None = None


ModelFactory = Callable[[Any, np.ndarray], keras.Model]


def _factory(spec: TrainingSpec, data: Dataset) -> ModelFactory:
    def make(learning_rate: Any, train_x: np.ndarray) -> keras.Model:
        normalize_on = train_x if spec.preprocessing.normalize else None
        return build_model(spec, data.feature_shape, learning_rate, normalize_on)

    return make


def _summarize(fold_results: list[FitResult]) -> dict[str, Any]:
    names = [k for k in fold_results[0].final if all(r.final.get(k) is not None for r in fold_results)]
    return {
        "folds": [
            {"fold": i, "metrics": r.final, "history": r.history, "epochs": r.epochs_run}
            for i, r in enumerate(fold_results, start=1)
        ],
        "mean": {k: mean(r.final[k] for r in fold_results) for k in names},
        "std": {k: pstdev(r.final[k] for r in fold_results) for k in names},
    }


def _cross_validate(
    spec: TrainingSpec, data: Dataset, train: Arrays, rate: Any, make: ModelFactory, reporter: Reporter
) -> tuple[dict[str, Any], int]:
    """k folds, each a fresh model; returns the summary and the epochs the final model should train."""
    assert spec.cross_validation is not None
    k = spec.cross_validation.folds
    results = []
    for i, (rows, held) in enumerate(folds(train, k, spec.cross_validation.stratified, spec.seed, data.task), 1):
        fold_train, fold_val = train.take(rows), train.take(held)

        def report(epoch: int, logs: Logs, fold: int = i) -> None:
            reporter.epoch(epoch, spec.fit.epochs, logs, fold, k)

        results.append(fit_once(make(rate, fold_train.x), spec, fold_train.xy, fold_val.xy, spec.fit.epochs, report))
    cv = _summarize(results)
    reporter.cross_validation(cv)
    # Early stopping needs validation data the final fit does not have: train as long as the folds did.
    epochs = int(median(r.epochs_run for r in results)) if spec.fit.early_stopping else spec.fit.epochs
    return cv, epochs


def train(spec: TrainingSpec, data: Dataset, validation_data: Dataset | None, reporter: Reporter) -> Outcome:
    seed_everything(spec.seed)
    loss = spec.loss_config.name
    everything = arrays_for(data, loss)
    test: Arrays | None = None
    train_rows = everything
    if spec.fit.test_split > 0:
        kept, held = holdout(everything, spec.fit.test_split, spec.seed, data.task)
        train_rows, test = everything.take(kept), everything.take(held)
    validation: Arrays | None = None
    if spec.fit.validation_split > 0:
        kept, held = holdout(train_rows, spec.fit.validation_split, spec.seed, data.task)
        train_rows, validation = train_rows.take(kept), train_rows.take(held)
    elif validation_data is not None:
        validation = arrays_for(validation_data, loss, data.classes)

    make = _factory(spec, data)
    rate, curve = spec.optimizer.learning_rate, None
    if rate == "auto":
        curve = lr_range_test(
            lambda lr: make(lr, train_rows.x), *train_rows.xy, spec.fit.batch_size, spec.fit.lr_range_test, spec.seed
        )
        reporter.lr_range(curve)
        rate = curve["chosen"]

    epochs, folds_count, cv = spec.fit.epochs, None, None
    if spec.cross_validation is not None:
        cv, epochs = _cross_validate(spec, data, train_rows, rate, make, reporter)
        folds_count = spec.cross_validation.folds

    def report(epoch: int, logs: Logs) -> None:
        reporter.epoch(epoch, epochs, logs, None, folds_count)

    model = make(rate, train_rows.x)
    fitted = fit_once(model, spec, train_rows.xy, validation.xy if validation else None, epochs, report)
    test_metrics = None
    if test is not None:
        test_metrics = {k: float(v) for k, v in model.evaluate(*test.xy, verbose=0, return_dict=True).items()}
    return Outcome(fitted, rate, test_metrics, cv, curve)
