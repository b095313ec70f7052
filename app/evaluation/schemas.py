"""An evaluation's request, the spec its job carries, and the stored result (API.md's Evaluation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.datasets import DatasetRef
from app.jobs.schemas import ModelRef


class EvaluationRequest(BaseModel):
    """`POST /models/{name}/versions/{version}/evaluations`."""

    model_config = ConfigDict(extra="forbid")

    dataset: DatasetRef
    batch_size: int = Field(256, ge=1, le=65_536, description="Rows per prediction call.")


class EvaluationSpec(EvaluationRequest):
    """What the job runs: the request and the version it measures."""

    #: The Keras backend of the job's child: TensorFlow's, which the serving runtimes (a tf.function where a
    #: version has no verified ONNX export) run on, so that the job predicts as the version is served.
    backend: Literal["tensorflow"] = "tensorflow"

    model: str
    version: int


class EvaluatedData(BaseModel):
    ref: dict[str, Any]
    sha256: str
    rows: int


class ConfusionMatrix(BaseModel):
    """`matrix[i][j]`: rows whose true label is `labels[i]` predicted as `labels[j]`."""

    labels: list[str]
    matrix: list[list[int]]


class ClassScores(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class RegressionScores(BaseModel):
    mae: float
    rmse: float
    r2: float | None
    residual_quantiles: dict[str, float]


class Scores(BaseModel):
    """What the metrics of one evaluation are, apart from the Keras loss and compiled metrics."""

    confusion_matrix: ConfusionMatrix | None = None
    per_class: dict[str, ClassScores] | None = None
    roc_auc: float | None = None
    regression: RegressionScores | None = None


class Evaluation(Scores):
    job_id: str
    model: ModelRef
    dataset: EvaluatedData
    created_at: datetime
    metrics: dict[str, float | None] = Field(default_factory=dict)
