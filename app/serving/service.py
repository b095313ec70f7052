"""Native predictions: resolve the version, check the inputs against its metadata, call it, name the classes."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import InvalidInput
from app.registry import LocalRegistry, ModelVersion
from app.serving.predictor import Predictor


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str
    version: int | None = Field(None, ge=1)
    alias: str | None = None
    instances: list[Any] = Field(min_length=1)

    @model_validator(mode="after")
    def _version_or_alias(self) -> PredictRequest:
        if self.version is not None and self.alias is not None:
            raise ValueError("give 'version' or 'alias', not both")
        return self


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    predictions: list[Any]
    classes: list[str] | None = None


def to_batch(instances: Any, meta: ModelVersion) -> np.ndarray:
    """A float32 batch shaped like the model's input, or InvalidInput naming the expected shape."""
    expected = [-1 if d is None else d for d in meta.input_shape]
    try:
        batch = np.asarray(instances, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"instances must be a rectangular array of numbers shaped {expected} ({exc})",
            errors=[{"loc": ["instances"], "msg": f"expected numbers shaped {expected}"}],
        ) from exc
    if list(batch.shape[1:]) != expected[1:] or batch.shape[0] == 0:
        raise InvalidInput(
            f"instances have shape {list(batch.shape)} but model {meta.name!r} version {meta.version} expects "
            f"{expected} (rows of {expected[1:]})",
            errors=[{"loc": ["instances"], "msg": f"expected shape {expected}, got {list(batch.shape)}"}],
        )
    if not np.isfinite(batch).all():
        raise InvalidInput(
            "instances contain NaN or infinite values",
            errors=[{"loc": ["instances"], "msg": "expected finite numbers"}],
        )
    return batch


def class_labels(outputs: np.ndarray, meta: ModelVersion) -> list[str] | None:
    """The label of the highest output per row (or of p > 0.5 for a single sigmoid unit)."""
    if meta.task != "classification" or not meta.classes:
        return None
    if outputs.shape[-1] == 1:
        indices = (outputs[:, 0] > 0.5).astype(int)
    else:
        indices = outputs.argmax(axis=-1)
    return [meta.classes[i] for i in indices]


def predict(registry: LocalRegistry, predictor: Predictor, request: PredictRequest) -> PredictResponse:
    version = registry.resolve(request.model, request.version, request.alias)
    loaded = predictor.get(request.model, version)
    outputs = loaded.infer(to_batch(request.instances, loaded.meta))
    return PredictResponse(
        model=request.model,
        version=version,
        predictions=outputs.tolist(),
        classes=class_labels(outputs, loaded.meta),
    )
