"""Pre-flight checks of a TrainingSpec against its dataset, run in the API before a job is queued.

Every mistake found is reported at once, each with the spec location it concerns and what was expected, so that
a user fixes a spec in one round trip rather than one error at a time.
"""

from __future__ import annotations

import numpy as np

from app.datasets.loading import AnyDataset, streams
from app.datasets.streamed import StreamedDataset
from app.datasets.types import Dataset
from app.errors import InvalidSpec
from app.training.head_checks import Error, Head, check_head, err, layers_head
from app.training.shapes import infer_stack
from app.training.spec import TrainingSpec


def _check_input_shapes(spec: TrainingSpec, data: Dataset) -> list[Error]:
    """`input_shape` on the model, or on the first layer as Keras writes it, must be the dataset's features."""
    errors: list[Error] = []
    given: list[tuple[list[int] | None, tuple[str | int, ...]]] = [(spec.model.input_shape, ("model", "input_shape"))]
    for index, layer in enumerate(spec.model.layers or []):
        loc = ("model", "layers", index, "input_shape")
        if index == 0:
            given.append((layer.input_shape, loc))
        elif layer.input_shape is not None:
            errors.append(err(f"input_shape is read on the first layer only, not on layer {index}", *loc))
    for shape, loc in given:
        if shape is not None and shape != data.feature_shape:
            errors.append(err(f"input_shape {shape} does not match the dataset's features {data.feature_shape}", *loc))
    return errors


def _check_model(spec: TrainingSpec, data: Dataset, max_params: int) -> list[Error]:
    errors = _check_input_shapes(spec, data)
    if spec.model.keras_config is not None:
        from app.training.keras_config import inspect_config

        built = inspect_config(spec.model.keras_config)
        if built.errors:
            return errors + built.errors
        if built.input_shape != data.feature_shape:
            errors.append(
                err(
                    f"the config's input shape {built.input_shape} does not match the dataset's "
                    f"features {data.feature_shape}",
                    "model",
                    "keras_config",
                )
            )
        head, params = Head(["model", "keras_config"], built.output_activation, built.output_shape or []), built.params
    else:
        stack = infer_stack(spec.model.layers or [], data.feature_shape)
        errors += stack.errors
        if stack.output is None:
            return errors
        head, params = layers_head(spec, stack.output), stack.params
    if params > max_params:
        errors.append(err(f"the model has {params} parameters, more than the limit of {max_params}", "model"))
    if len(head.output) != 1:
        errors.append(
            err(
                f"the model's output must be one vector per row, but it has shape {head.output}; add a "
                "flatten layer before the last dense layer",
                *head.loc,
            )
        )
    return errors + check_head(spec, data, head)


def _check_fit(spec: TrainingSpec, data: Dataset, validation: Dataset | None) -> list[Error]:
    fit, errors = spec.fit, []
    rows = data.rows - int(data.rows * fit.test_split)
    has_validation = fit.validation_split > 0 or validation is not None or spec.cross_validation is not None
    if fit.test_split > 0 and int(data.rows * fit.test_split) < 1:
        errors.append(err(f"test_split {fit.test_split} of {data.rows} rows leaves no test rows", "fit", "test_split"))
    if fit.validation_split > 0 and int(rows * fit.validation_split) < 1:
        errors.append(
            err(
                f"validation_split {fit.validation_split} of {rows} rows leaves no validation rows",
                "fit",
                "validation_split",
            )
        )
    train_rows = rows - int(rows * fit.validation_split)
    if spec.cross_validation is not None:
        train_rows = rows - -(-rows // spec.cross_validation.folds)
    if fit.batch_size > train_rows:
        errors.append(
            err(f"batch_size {fit.batch_size} is larger than the {train_rows} training rows", "fit", "batch_size")
        )
    for name in ("early_stopping", "reduce_lr_on_plateau"):
        callback = getattr(fit, name)
        if callback and callback.monitor.startswith("val_") and not has_validation:
            errors.append(
                err(
                    f"{name} monitors {callback.monitor!r} but there is no validation data; set "
                    "fit.validation_split or fit.validation_data, or monitor 'loss'",
                    "fit",
                    name,
                    "monitor",
                )
            )
    return errors + (_check_validation_data(data, validation) if validation is not None else [])


def _check_validation_data(data: Dataset, validation: Dataset) -> list[Error]:
    loc = ("fit", "validation_data")
    if validation.feature_shape != data.feature_shape:
        return [
            err(
                f"validation features {validation.feature_shape} differ from the training features "
                f"{data.feature_shape}",
                *loc,
            )
        ]
    if validation.task != data.task:
        return [err(f"validation data is a {validation.task} task but the training data is {data.task}", *loc)]
    unknown = sorted(set(validation.classes or []) - set(data.classes or []))
    if unknown:
        return [err(f"validation labels {unknown} do not occur in the training data {data.classes}", *loc)]
    return []


def _check_cross_validation(spec: TrainingSpec, data: Dataset) -> list[Error]:
    cv = spec.cross_validation
    if cv is None:
        return []
    loc = ("cross_validation", "folds")
    errors: list[Error] = []
    if spec.fit.validation_split > 0 or spec.fit.validation_data is not None:
        errors.append(
            err(
                "cross-validation validates on each held-out fold; drop fit.validation_split and fit.validation_data",
                "cross_validation",
            )
        )
    if cv.folds > data.rows:
        errors.append(err(f"{cv.folds} folds need at least {cv.folds} rows; the dataset has {data.rows}", *loc))
    elif cv.stratified and data.task == "classification" and not isinstance(data, StreamedDataset):
        smallest = int(np.bincount(data.y, minlength=data.n_classes).min())
        if smallest < cv.folds:
            errors.append(
                err(
                    f"stratified {cv.folds}-fold cross-validation needs at least {cv.folds} rows of "
                    f"every class; the rarest class has {smallest}",
                    *loc,
                )
            )
    return errors


def _check_workers(spec: TrainingSpec) -> list[Error]:
    """What data-parallel training (app/worker/ray/train_worker.py) does not do yet."""
    workers, errors = spec.resources.workers, []
    if workers == 1:
        return []
    if spec.cross_validation is not None:
        msg = "cross-validation runs on one worker; drop cross_validation or set resources.workers to 1"
        errors.append(err(msg, "cross_validation"))
    if spec.optimizer.learning_rate == "auto":
        errors.append(err("learning_rate 'auto' runs on one worker; give a rate", "optimizer", "learning_rate"))
    for clip in ("clipnorm", "clipvalue"):  # Keras clips each worker's share of the gradient, not their sum
        if getattr(spec.optimizer, clip) is not None:
            errors.append(err(f"{clip} is not supported across workers yet", "optimizer", clip))
    if spec.fit.batch_size < workers:
        errors.append(
            err(f"batch_size {spec.fit.batch_size} gives some of the {workers} workers no rows", "fit", "batch_size")
        )
    return errors


def _check_streamed(spec: TrainingSpec, data: AnyDataset) -> list[Error]:
    """What training on a dataset streamed from its files (over MAAS_IN_MEMORY_MB) does not do: each of these
    would be several more passes over all of it, or every worker reading all of it."""
    if not streams(data):
        return []
    assert isinstance(data, StreamedDataset)
    what = f"dataset {data.name!r} ({data.bytes} bytes) is streamed from its files, being over MAAS_IN_MEMORY_MB"
    errors: list[Error] = []
    if spec.cross_validation is not None:
        errors.append(
            err(f"{what}: cross-validation is not supported on it; drop cross_validation", "cross_validation")
        )
    if spec.optimizer.learning_rate == "auto":
        msg = f"{what}: the LR range test ('auto') is not supported on it; give a learning rate"
        errors.append(err(msg, "optimizer", "learning_rate"))
    if spec.resources.workers > 1:
        msg = f"{what}: data-parallel training is not supported on it; set resources.workers to 1"
        errors.append(err(msg, "resources", "workers"))
    return errors


def check_executor(spec: TrainingSpec, executor: str) -> None:
    """Refuse what the configured executor cannot run: data-parallel workers need Ray."""
    if spec.resources.workers > 1 and executor != "ray":
        msg = (
            f"resources.workers {spec.resources.workers} trains across Ray workers: it needs the Ray executor "
            "(MAAS_EXECUTOR=ray), and this server runs jobs locally"
        )
        raise InvalidSpec(msg, errors=[err(msg, "resources", "workers")])


def validate_spec(spec: TrainingSpec, data: Dataset, max_params: int, validation: Dataset | None = None) -> None:
    """Raise InvalidSpec naming every way `spec` does not fit `data` (and its validation dataset)."""
    errors = _check_model(spec, data, max_params)
    errors += _check_fit(spec, data, validation)
    errors += _check_cross_validation(spec, data)
    errors += _check_workers(spec)
    errors += _check_streamed(spec, data)
    if errors:
        raise InvalidSpec("; ".join(e["msg"] for e in errors), errors=errors)
