"""The Job as clients and workers see it: plain data, no SQL and no HTTP."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer


class JobStatus(StrEnum):
    """Where a job is in its life; the last four are terminal."""

    #: Waiting for a worker to claim it.
    QUEUED = "queued"
    #: Claimed by a worker whose child process is training it.
    RUNNING = "running"
    #: Trained and published as a model version.
    SUCCEEDED = "succeeded"
    #: Stopped by an error; `error` says which.
    FAILED = "failed"
    #: Stopped by a user's cancel.
    CANCELLED = "cancelled"
    #: Stopped early by a sweep's pruner.
    PRUNED = "pruned"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


class JobKind(StrEnum):
    """What a job does; every kind shares one queue, claim, heartbeat, cancel, retry and event stream."""

    #: Train (or fine-tune) a model and publish it as a version.
    TRAIN = "train"
    #: Measure a version on a dataset (app/evaluation).
    EVALUATE = "evaluate"
    #: Score a whole dataset with a version into an output file (app/batch).
    PREDICT = "predict"
    #: Profile a remote dataset.
    PROFILE = "profile"


class Progress(BaseModel):
    """How far the job has got: epochs done out of planned. Under cross-validation `fold` is the fold being
    trained (1..folds), then None with `folds` set while the final model trains on all the data. Jobs that
    score rows (evaluate, predict) count `rows` out of `total_rows` instead."""

    epoch: int = 0
    epochs: int = 0
    fold: int | None = None
    folds: int | None = None
    rows: int | None = None
    total_rows: int | None = None
    #: Training rows per second of the latest epoch (its rows over its wall time, validation included).
    samples_per_second: float | None = None

    @model_serializer(mode="wrap")
    def _training_unchanged(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A training job's progress keeps its four fields: the row counts appear only on scoring jobs, the
        samples per second once an epoch was timed."""
        data = handler(self)
        optional = ("rows", "total_rows", "samples_per_second")
        return {k: v for k, v in data.items() if k not in optional or v is not None}


class JobMetrics(BaseModel):
    """Per-epoch history of the published model (metric name -> one value per epoch), its final values,
    cross-validation results (each fold's metrics and history, mean and std), held-out test metrics, and the
    learning-rate range test's curve and pick."""

    history: dict[str, list[float | None]] = Field(default_factory=dict)
    final: dict[str, float | None] = Field(default_factory=dict)
    cv: dict[str, Any] | None = None
    test: dict[str, float | None] | None = None
    lr_range_test: dict[str, Any] | None = None
    #: Wall seconds of each epoch of the published model, as `history` (null where an epoch was not timed).
    epoch_seconds: list[float | None] = Field(default_factory=list)


class ModelRef(BaseModel):
    name: str
    version: int


class JobError(BaseModel):
    type: str
    message: str


class WorkerInfo(BaseModel):
    """Which worker claimed the job and the pid of the child process training it."""

    id: str
    pid: int | None = None


class Job(BaseModel):
    """A job (API.md's Job): training by default, or one of the other kinds."""

    id: str
    kind: JobKind = JobKind.TRAIN
    status: JobStatus
    model_name: str
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress = Field(default_factory=Progress)
    metrics: JobMetrics = Field(default_factory=JobMetrics)
    model: ModelRef | None = None
    error: JobError | None = None
    attempts: int = 0
    resumed_from: Progress | None = None
    sweep_id: str | None = None
    trial: int | None = None
    worker: WorkerInfo | None = None
