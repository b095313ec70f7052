"""The plan of a training job (a sweep's trial too): its data, model source and checkpoints, the strategy that
trains it and the sink its model goes to. Imports Keras: only a training child (the warm one) loads it."""

from __future__ import annotations

from app.datasets import load_dataset
from app.jobs.schemas import Job
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.checkpoints import Checkpoints
from app.training.model_source import model_source
from app.training.spec import TrainingSpec
from app.worker.context import JobContext
from app.worker.outcomes import Plan
from app.worker.reporters import JobReporting, StoreReporter
from app.worker.sinks import PublishVersion, Sink, SweepTrial
from app.worker.strategies import DataParallel, LocalFit, Strategy


def strategy_for(spec: TrainingSpec) -> Strategy:
    """Data-parallel across Ray Train workers when the spec asks for more than one, else in this process."""
    return DataParallel() if spec.resources.workers > 1 else LocalFit()


def sink_for(job: Job, sweeps: SweepStore) -> Sink:
    """A sweep's trial stages its model for the sweep; any other training job publishes a version."""
    return SweepTrial(sweeps) if job.sweep_id is not None else PublishVersion()


def plan(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    assert job.worker is not None
    spec = TrainingSpec.model_validate(job.spec)
    checkpoints = Checkpoints(settings.jobs_dir / job.id / "checkpoints")
    if not checkpoints.exists:
        store.runs.start_attempt(job.id, job.worker.id, spec.fit.epochs)
    limit = settings.in_memory_mb
    data = load_dataset(spec.dataset, settings.datasets_location, in_memory_mb=limit)
    validation = spec.fit.validation_data and load_dataset(
        spec.fit.validation_data, settings.datasets_location, in_memory_mb=limit
    )
    context = JobContext(
        job=job,
        settings=settings,
        spec=spec,
        data=data,
        validation=validation,
        source=model_source(spec, data.feature_shape, settings),
        checkpoints=checkpoints,
        reporting=JobReporting(settings.resolved_database_url, job.id, job.worker.id),
    )
    reporter = StoreReporter(store.runs, job.id, job.worker.id)
    return Plan(context, strategy_for(spec), sink_for(job, sweeps), reporter)
