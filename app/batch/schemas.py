"""A batch prediction's request and the spec its job carries."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from app.datasets import DatasetRef
from app.registry.names import NAME_PATTERN

OutputFormat = Literal["parquet", "csv"]


class BatchPredictionRequest(BaseModel):
    """`POST /batch-predictions`: neither version nor alias = the latest version."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(pattern=NAME_PATTERN)
    version: PositiveInt | None = None
    alias: str | None = None
    dataset: DatasetRef
    format: OutputFormat = "parquet"
    shard_rows: int = Field(65_536, ge=1, le=1_048_576, description="Rows per output shard (the resume unit).")
    batch_size: int = Field(1024, ge=1, le=65_536, description="Rows per prediction call.")

    @model_validator(mode="after")
    def _one_pick(self) -> BatchPredictionRequest:
        if self.version is not None and self.alias is not None:
            raise ValueError("give version or alias, not both")
        return self


class BatchPredictionSpec(BatchPredictionRequest):
    """The request with its version pinned at submission, so a moved alias cannot change a running job."""

    #: The Keras backend of the job's child: TensorFlow's, which the serving runtimes (a tf.function where a
    #: version has no verified ONNX export) run on, so that the job predicts as the version is served.
    backend: Literal["tensorflow"] = "tensorflow"

    version: PositiveInt
