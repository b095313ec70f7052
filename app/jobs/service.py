"""Submitting a training job: load its dataset, check the spec against it, then queue it."""

from __future__ import annotations

from app.datasets import load_dataset
from app.errors import QueueFull
from app.jobs.schemas import Job, JobStatus
from app.jobs.store import JobStore
from app.settings import Settings
from app.training.spec import TrainingSpec
from app.training.validate import check_executor, validate_spec


def submit_job(store: JobStore, spec: TrainingSpec, settings: Settings) -> Job:
    """Queue `spec` as a job, or raise InvalidSpec (nothing queued) if it does not fit its dataset, or
    QueueFull when MAAS_MAX_QUEUED jobs already wait."""
    queued = store.count_by_status().get(JobStatus.QUEUED.value, 0)
    if queued >= settings.max_queued:
        raise QueueFull(f"{queued} jobs are queued, the most this service holds (MAAS_MAX_QUEUED); retry later")
    check_executor(spec, settings.executor)
    data = load_dataset(spec.dataset, settings.datasets_location)
    validation = spec.fit.validation_data and load_dataset(spec.fit.validation_data, settings.datasets_location)
    validate_spec(spec, data, settings.max_params, validation)
    retries = spec.max_retries if spec.max_retries is not None else settings.max_retries
    body = spec.model_dump(mode="json", exclude_none=True)
    return store.create_job(spec.model_name, body, epochs=spec.fit.epochs, max_retries=retries)
