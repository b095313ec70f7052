"""Pre-flight checks shared by evaluations and batch predictions: does a dataset fit a version's input, and (to
be measured against it) its task and labels? Every refusal names both sides."""

from __future__ import annotations

import numpy as np

from app.datasets.types import Dataset
from app.errors import InvalidInput
from app.registry import ModelVersion


def _refuse(msg: str) -> None:
    raise InvalidInput(msg, errors=[{"loc": ["dataset"], "msg": msg}])


def check_inputs(meta: ModelVersion, data: Dataset) -> None:
    expected = list(meta.input_shape[1:])
    if data.feature_shape != expected:
        _refuse(
            f"dataset {data.name!r} has features of shape {data.feature_shape}, but {meta.name} "
            f"v{meta.version} takes {expected}"
        )


def check_targets(meta: ModelVersion, data: Dataset) -> None:
    check_inputs(meta, data)
    if data.task != meta.task:
        _refuse(f"dataset {data.name!r} is a {data.task} task, but {meta.name} v{meta.version} is a {meta.task} model")
    unknown = sorted(set(data.classes or []) - set(meta.classes or []))
    if unknown:
        _refuse(
            f"dataset {data.name!r} has labels {unknown} that {meta.name} v{meta.version} does not know; "
            f"its classes are {meta.classes}, the dataset's {data.classes}"
        )


def class_mapping(meta: ModelVersion, data: Dataset) -> np.ndarray:
    """For each of the dataset's class indices, the version's index of the same label."""
    position = {label: i for i, label in enumerate(meta.classes or [])}
    return np.array([position[label] for label in data.classes or []], dtype=np.int64)
