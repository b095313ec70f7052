"""The output layer against the dataset's targets: units for the classes, an activation that fits the loss, and
metrics that fit the task. Part of the pre-flight checks of app/training/validate.py."""

from __future__ import annotations

from typing import Any, get_args

from app.datasets.types import Dataset
from app.training.layers import Conv2D, Dense
from app.training.spec import ClassificationLoss, ClassificationMetric, RegressionLoss, TrainingSpec

CLASSIFICATION_LOSSES = set(get_args(ClassificationLoss))
REGRESSION_LOSSES = set(get_args(RegressionLoss))
CLASSIFICATION_METRICS = set(get_args(ClassificationMetric))
BINARY_ONLY_METRICS = {"auc", "precision", "recall", "binary_accuracy"}
PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}

Error = dict[str, Any]


def err(msg: str, *loc: str | int) -> Error:
    return {"loc": list(loc), "msg": msg}


class Head:
    """Where the output layer is in the spec, its activation, and the model's output shape."""

    def __init__(self, loc: list[str | int], activation: str, output: list[int | None]) -> None:
        self.loc, self.activation, self.output = loc, activation, output


def layers_head(spec: TrainingSpec, output: list[int]) -> Head:
    layers = spec.model.layers or []
    for index in range(len(layers) - 1, -1, -1):
        if isinstance(layers[index], Dense | Conv2D):
            return Head(["model", "layers", index], layers[index].activation or "linear", output)
    return Head(["model", "layers", len(layers) - 1], "linear", output)


def _check_classification_head(spec: TrainingSpec, data: Dataset, head: Head) -> list[Error]:
    loss, k, units = spec.loss_config, data.n_classes, head.output[-1]
    if loss.name not in CLASSIFICATION_LOSSES:
        return [
            err(
                f"loss {loss.name!r} is for regression, but dataset {data.name!r} is a classification task "
                f"with {k} classes; use sparse_categorical_crossentropy",
                "loss",
            )
        ]
    errors: list[Error] = []
    if loss.name == "binary_crossentropy":
        if k != 2:
            errors.append(
                err(
                    f"binary_crossentropy needs 2 classes but the dataset has {k}; use "
                    "sparse_categorical_crossentropy with a softmax output",
                    "loss",
                )
            )
        elif units != 1:
            errors.append(err(f"binary_crossentropy expects 1 output unit, got {units}", *head.loc, "units"))
        expected = "sigmoid"
    else:
        if units != k:
            errors.append(
                err(
                    f"model output has {units} units but the dataset has {k} classes: "
                    f"expected {k} units for {k} classes",
                    *head.loc,
                    "units",
                )
            )
        expected = "softmax"
    if loss.from_logits and head.activation in PROBABILITY_ACTIVATIONS:
        errors.append(
            err(
                f"loss has from_logits=true, but the output layer applies {head.activation}, so its "
                "outputs are probabilities, not logits: set from_logits to false, or use a linear output",
                "loss",
                "from_logits",
            )
        )
    elif not loss.from_logits and head.activation != expected:
        errors.append(
            err(
                f"{loss.name} expects {expected} probabilities, but the output layer's activation is "
                f"{head.activation}: use activation {expected!r}, or from_logits=true with a linear output",
                *head.loc,
                "activation",
            )
        )
    binary_head = loss.name == "binary_crossentropy"
    errors += [
        err(f"metric {m!r} needs a binary (1-unit sigmoid) output; use 'accuracy' for {k} classes", "metrics", i)
        for i, m in enumerate(spec.metrics)
        if m in BINARY_ONLY_METRICS and not binary_head
    ]
    return errors


def _check_regression_head(spec: TrainingSpec, data: Dataset, head: Head) -> list[Error]:
    loss, expected = spec.loss_config, data.target_shape or [1]
    errors: list[Error] = []
    if loss.name not in REGRESSION_LOSSES:
        errors.append(
            err(
                f"loss {loss.name!r} is for classification, but dataset {data.name!r} has numeric "
                "targets (regression); use mean_squared_error or mean_absolute_error",
                "loss",
            )
        )
    if head.output != expected:
        errors.append(err(f"model output shape {head.output} does not match the target shape {expected}", *head.loc))
    errors += [
        err(f"metric {m!r} is for classification; this dataset is a regression task", "metrics", i)
        for i, m in enumerate(spec.metrics)
        if m in CLASSIFICATION_METRICS
    ]
    return errors


def check_head(spec: TrainingSpec, data: Dataset, head: Head) -> list[Error]:
    """The output layer, loss and metrics against a classification or regression dataset."""
    check = _check_classification_head if data.task == "classification" else _check_regression_head
    return check(spec, data, head)
