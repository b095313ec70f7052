"""What the registry returns: a version's metadata and model summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.registry.traffic import AliasTraffic


class ModelVersion(BaseModel):
    """One published, immutable model version: everything needed to call it and to reproduce it."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str
    version: int
    created_at: datetime
    job_id: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    input_shape: list[int | None]
    output_shape: list[int | None]
    input_dtype: str = "float32"
    output_dtype: str = "float32"
    task: str
    classes: list[str] | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    dataset: dict[str, Any] = Field(default_factory=dict)
    framework: dict[str, str] = Field(default_factory=dict)
    sha256: str
    artifact: str = "model.keras"
    #: What serves the version: "onnxruntime" (its ONNX export matched Keras at publish) or "tensorflow".
    runtime: str = "tensorflow"
    #: The ONNX export and the TensorFlow SavedModel, relative to the version folder ("." = the folder itself).
    onnx: str | None = None
    saved_model: str | None = None
    #: The Keras backend and dtype policy it was trained with (versions published before they were recorded: None).
    backend: str | None = None
    precision: str | None = None
    #: The version this one was fine-tuned from (`init_from`): {"name", "version"}, else None.
    parent: dict[str, Any] | None = None


class ModelSummary(BaseModel):
    name: str
    latest_version: int | None
    aliases: dict[str, int]
    versions: int


class ModelDetail(BaseModel):
    name: str
    aliases: dict[str, int]
    versions: list[ModelVersion]
    #: Each alias' version, canary and shadow (`aliases` stays `{alias: version}`).
    traffic: dict[str, AliasTraffic] = Field(default_factory=dict)
