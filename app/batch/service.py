"""Queueing a batch prediction: the version is pinned and the dataset checked against it before it is queued."""

from __future__ import annotations

from app.batch.schemas import BatchPredictionRequest, BatchPredictionSpec
from app.datasets.loading import open_dataset
from app.datasets.service import check_ready
from app.errors import Conflict
from app.evaluation.checks import check_inputs
from app.jobs.schemas import Job, JobKind, JobStatus, Progress
from app.jobs.service import check_room
from app.jobs.store import JobStore
from app.registry import Registry
from app.settings import Settings


def submit_batch_prediction(
    store: JobStore, registry: Registry, settings: Settings, request: BatchPredictionRequest
) -> Job:
    """Queue a job of kind `predict`: ModelNotFound/VersionNotFound/AliasNotFound, InvalidInput or QueueFull else."""
    check_room(store, settings)
    version = registry.resolve(request.model, request.version, request.alias)
    meta = registry.read_version(request.model, version)
    check_ready(request.dataset, datasets_location=settings.datasets_location)
    data = open_dataset(request.dataset, settings.datasets_location)
    check_inputs(meta, data)
    spec = BatchPredictionSpec(**{**request.model_dump(), "version": version, "alias": None})
    return store.create_job(
        request.model,
        spec.model_dump(mode="json", exclude_none=True),
        kind=JobKind.PREDICT,
        max_retries=settings.max_retries,
        progress=Progress(rows=0, total_rows=data.rows),
    )


def output_path(settings: Settings, job: Job) -> str:
    """Where a succeeded batch prediction's file lies; Conflict before it succeeded."""
    if job.kind != JobKind.PREDICT:
        raise Conflict(f"job {job.id} is a {job.kind.value} job; only batch predictions have an output")
    if job.status != JobStatus.SUCCEEDED:
        raise Conflict(f"job {job.id} is {job.status.value}; its output is there once it has succeeded")
    return str(settings.jobs_dir / job.id / "output" / f"predictions.{job.spec['format']}")
