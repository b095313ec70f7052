"""Submitting a training job: load its dataset, check the spec against it, then queue it."""

from __future__ import annotations

from app.datasets.loading import open_dataset
from app.datasets.service import check_ready
from app.errors import QueueFull
from app.jobs.schemas import Job, JobStatus
from app.jobs.store import JobStore
from app.registry import open_registry
from app.settings import Settings
from app.training.init_from import resolve_init_from
from app.training.spec import TrainingSpec
from app.training.validate import check_executor, validate_spec


def check_room(store: JobStore, settings: Settings) -> None:
    """QueueFull when MAAS_MAX_QUEUED jobs (of any kind) already wait."""
    queued = store.count_by_status().get(JobStatus.QUEUED.value, 0)
    if queued >= settings.max_queued:
        raise QueueFull(f"{queued} jobs are queued, the most this service holds (MAAS_MAX_QUEUED); retry later")


def submit_job(store: JobStore, spec: TrainingSpec, settings: Settings) -> Job:
    """Queue `spec` as a job, or raise InvalidSpec (nothing queued) if it does not fit its dataset, or
    QueueFull when MAAS_MAX_QUEUED jobs already wait. A fine-tuning spec is pinned to one version first."""
    check_room(store, settings)
    check_executor(spec, settings.executor)
    check_ready(spec.dataset, spec.fit.validation_data, datasets_location=settings.datasets_location)
    data = open_dataset(spec.dataset, settings.datasets_location)
    if spec.init_from is not None:
        registry = open_registry(settings.registry_location, settings.cache_dir)
        spec = resolve_init_from(spec, registry, data)
    validation = spec.fit.validation_data and open_dataset(spec.fit.validation_data, settings.datasets_location)
    validate_spec(spec, data, settings.max_params, validation)
    retries = spec.max_retries if spec.max_retries is not None else settings.max_retries
    body = spec.model_dump(mode="json", exclude_none=True)
    return store.create_job(spec.model_name, body, epochs=spec.fit.epochs, max_retries=retries)
