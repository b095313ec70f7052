"""The native `/predict` payload: `{"model", "version" | "alias", "instances"}` in, predictions and classes out.

The envelope is checked by pydantic (it is small); `instances` goes from orjson straight into numpy, because
validating thousands of floats one by one as `list[list[float]]` costs more than the model call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import MalformedBody
from app.registry import ModelVersion
from app.serving.codecs.common import check_batch, dumps, loads, to_array


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
    """What `/predict` answers (documents the response; the body itself is written by `encode`)."""

    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    predictions: list[Any]
    classes: list[str] | None = None


def decode(body: bytes) -> PredictRequest:
    """The request envelope; raises MalformedBody (not JSON) or pydantic's ValidationError (wrong fields)."""
    payload = loads(body)
    if not isinstance(payload, dict):
        raise MalformedBody("the request body must be a JSON object")
    return PredictRequest.model_validate(payload)


def to_batch(instances: Any, meta: ModelVersion) -> np.ndarray:
    """A float32 batch shaped like the model's input, or InvalidInput naming the expected shape."""
    return check_batch(to_array(instances, "instances", meta), "instances", meta)


def class_labels(outputs: np.ndarray, meta: ModelVersion) -> list[str] | None:
    """The label of the highest output per row (or of p > 0.5 for a single sigmoid unit)."""
    if meta.task != "classification" or not meta.classes or outputs.ndim != 2:
        return None
    indices = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[-1] == 1 else outputs.argmax(axis=-1)
    return [meta.classes[i] for i in indices]


def encode(meta: ModelVersion, outputs: np.ndarray) -> bytes:
    body: dict[str, Any] = {"model": meta.name, "version": meta.version, "predictions": np.ascontiguousarray(outputs)}
    classes = class_labels(outputs, meta)
    if classes is not None:
        body["classes"] = classes
    return dumps(body)
