"""Pre-flight checks of a TrainingSpec against its dataset, run in the API before a job is queued.

Every mistake found is reported at once, each with the spec location it concerns and what was expected, so that
a user fixes a spec in one round trip rather than one error at a time.
"""

from __future__ import annotations

from typing import Any, get_args

from app.datasets.types import Dataset
from app.errors import InvalidSpec
from app.training.shapes import infer_stack
from app.training.spec import ClassificationLoss, Conv2D, Dense, RegressionLoss, TrainingSpec

CLASSIFICATION_LOSSES = set(get_args(ClassificationLoss))
REGRESSION_LOSSES = set(get_args(RegressionLoss))
CLASSIFICATION_METRICS = {
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
}
PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}

Error = dict[str, Any]


def _err(msg: str, *loc: str | int) -> Error:
    return {"loc": list(loc), "msg": msg}


def _output_activation(spec: TrainingSpec) -> tuple[int | None, str]:
    """Index and activation of the last layer that has one (dense or conv2d); 'linear' when unset."""
    for index in range(len(spec.model.layers) - 1, -1, -1):
        layer = spec.model.layers[index]
        if isinstance(layer, Dense | Conv2D):
            return index, layer.activation or "linear"
    return None, "linear"


def _check_classification_head(spec: TrainingSpec, data: Dataset, units: int) -> list[Error]:
    loss = spec.loss_config
    index, activation = _output_activation(spec)
    head = ["model", "layers", index if index is not None else len(spec.model.layers) - 1]
    k = data.n_classes
    errors: list[Error] = []
    if loss.name not in CLASSIFICATION_LOSSES:
        errors.append(
            _err(
                f"loss {loss.name!r} is for regression, but dataset {data.name!r} is a "
                f"classification task with {k} classes; use sparse_categorical_crossentropy",
                "loss",
            )
        )
        return errors
    if loss.name == "binary_crossentropy":
        if k != 2:
            errors.append(
                _err(
                    f"binary_crossentropy needs 2 classes but the dataset has {k}; use "
                    "sparse_categorical_crossentropy with a softmax output",
                    "loss",
                )
            )
        if units != 1:
            errors.append(_err(f"binary_crossentropy expects 1 output unit, got {units}", *head, "units"))
        expected_activation = "sigmoid"
    else:
        if units != k:
            errors.append(
                _err(
                    f"model output has {units} units but the dataset has {k} classes: "
                    f"expected {k} units for {k} classes",
                    *head,
                    "units",
                )
            )
        expected_activation = "softmax"
    if loss.from_logits and activation in PROBABILITY_ACTIVATIONS:
        errors.append(
            _err(
                f"loss has from_logits=true, but the output layer applies {activation}, so its "
                "outputs are probabilities, not logits: set from_logits to false, or use a linear "
                "output",
                "loss",
                "from_logits",
            )
        )
    elif not loss.from_logits and activation != expected_activation:
        errors.append(
            _err(
                f"{loss.name} expects {expected_activation} probabilities, but the output layer's "
                f"activation is {activation}: use activation {expected_activation!r}, or "
                "from_logits=true with a linear output",
                *head,
                "activation",
            )
        )
    return errors


def _check_regression_head(spec: TrainingSpec, data: Dataset, output: list[int]) -> list[Error]:
    loss = spec.loss_config
    expected = data.target_shape or [1]
    errors: list[Error] = []
    if loss.name not in REGRESSION_LOSSES:
        errors.append(
            _err(
                f"loss {loss.name!r} is for classification, but dataset {data.name!r} has numeric "
                "targets (regression); use mean_squared_error or mean_absolute_error",
                "loss",
            )
        )
    if output != expected:
        errors.append(
            _err(
                f"model output shape {output} does not match the target shape {expected}",
                "model",
                "layers",
                len(spec.model.layers) - 1,
            )
        )
    errors += [
        _err(f"metric {m!r} is for classification; this dataset is a regression task", "metrics", i)
        for i, m in enumerate(spec.metrics)
        if m in CLASSIFICATION_METRICS
    ]
    return errors


def _check_fit(spec: TrainingSpec, data: Dataset) -> list[Error]:
    val_rows = int(data.rows * spec.fit.validation_split)
    train_rows = data.rows - val_rows
    errors: list[Error] = []
    if spec.fit.validation_split > 0 and val_rows < 1:
        errors.append(
            _err(
                f"validation_split {spec.fit.validation_split} of {data.rows} rows leaves no validation rows",
                "fit",
                "validation_split",
            )
        )
    if spec.fit.batch_size > train_rows:
        errors.append(
            _err(f"batch_size {spec.fit.batch_size} is larger than the {train_rows} training rows", "fit", "batch_size")
        )
    stopping = spec.fit.early_stopping
    if stopping and stopping.monitor.startswith("val_") and spec.fit.validation_split == 0:
        errors.append(
            _err(
                f"early stopping monitors {stopping.monitor!r} but there is no validation data; "
                "set fit.validation_split or monitor 'loss'",
                "fit",
                "early_stopping",
                "monitor",
            )
        )
    return errors


def validate_spec(spec: TrainingSpec, data: Dataset, max_params: int) -> None:
    """Raise InvalidSpec naming every way `spec` does not fit `data`."""
    stack = infer_stack(spec.model.layers, data.feature_shape)
    errors = list(stack.errors)
    if stack.output is not None:
        if len(stack.output) != 1:
            errors.append(
                _err(
                    f"the model's output must be one vector per row, but it has shape {stack.output}; "
                    "add a flatten layer before the last dense layer",
                    "model",
                    "layers",
                    len(spec.model.layers) - 1,
                )
            )
        elif data.task == "classification":
            errors += _check_classification_head(spec, data, stack.output[0])
        else:
            errors += _check_regression_head(spec, data, stack.output)
    if stack.params > max_params:
        errors.append(_err(f"the model has {stack.params} parameters, more than the limit of {max_params}", "model"))
    errors += _check_fit(spec, data)
    if errors:
        detail = "; ".join(e["msg"] for e in errors)
        raise InvalidSpec(detail, errors=errors)
