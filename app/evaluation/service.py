"""Queueing an evaluation: the version must exist and the dataset must fit it, before anything is queued."""

from __future__ import annotations

from app.datasets.loading import open_dataset
from app.datasets.service import check_ready
from app.evaluation.checks import check_targets
from app.evaluation.schemas import EvaluationRequest, EvaluationSpec
from app.jobs.schemas import Job, JobKind, Progress
from app.jobs.service import check_room
from app.jobs.store import JobStore
from app.registry import Registry
from app.settings import Settings


def submit_evaluation(
    store: JobStore, registry: Registry, settings: Settings, *, name: str, version: int, request: EvaluationRequest
) -> Job:
    """Queue a job of kind `evaluate`: VersionNotFound, InvalidInput (the data does not fit) or QueueFull else."""
    check_room(store, settings)
    meta = registry.read_version(name, version)
    check_ready(request.dataset, datasets_location=settings.datasets_location)
    data = open_dataset(request.dataset, settings.datasets_location)
    check_targets(meta, data)
    spec = EvaluationSpec(model=name, version=version, **request.model_dump())
    return store.create_job(
        name,
        spec.model_dump(mode="json", exclude_none=True),
        kind=JobKind.EVALUATE,
        max_retries=settings.max_retries,
        progress=Progress(rows=0, total_rows=data.rows),
    )
