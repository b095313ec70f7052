"""The one place that reads a job's kind: what its child builds (its context), how it runs (its strategy) and
where its result goes (its sink).

A new kind of job is a planner here, with its strategy and sink; run_job (app/worker/job_run.py) stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.datasets import load_dataset
from app.jobs.schemas import Job, JobKind
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.checkpoints import Checkpoints
from app.training.model_source import model_source
from app.training.spec import TrainingSpec
from app.worker.batch_predict import PredictInShards
from app.worker.context import JobContext
from app.worker.evaluate import Evaluate
from app.worker.profile import ProfileDataset, UpdateRecord, profile_context
from app.worker.reporters import JobReporting
from app.worker.scoring import scoring_context
from app.worker.sinks import PublishVersion, Sink, StoreEvaluation, SweepTrial, WriteOutput
from app.worker.strategies import DataParallel, LocalFit, Strategy


@dataclass(frozen=True)
class Plan:
    """One job's run: its context (JobContext or ScoringContext), strategy and sink."""

    context: Any
    strategy: Strategy
    sink: Sink


def strategy_for(spec: TrainingSpec) -> Strategy:
    """Data-parallel across Ray Train workers when the spec asks for more than one, else in this process."""
    return DataParallel() if spec.resources.workers > 1 else LocalFit()


def sink_for(job: Job, sweeps: SweepStore) -> Sink:
    """A sweep's trial stages its model for the sweep; any other training job publishes a version."""
    return SweepTrial(sweeps) if job.sweep_id is not None else PublishVersion()


def _training(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
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
    return Plan(context, strategy_for(spec), sink_for(job, sweeps))


def _scoring(strategy: Strategy, sink: Sink) -> Callable[[Job, Settings, JobStore, SweepStore], Plan]:
    def plan(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
        return Plan(scoring_context(job, settings, store), strategy, sink)

    return plan


def _profiling(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    return Plan(profile_context(job, settings, store), ProfileDataset(), UpdateRecord())


PLANNERS: dict[JobKind, Callable[[Job, Settings, JobStore, SweepStore], Plan]] = {
    JobKind.TRAIN: _training,
    JobKind.EVALUATE: _scoring(Evaluate(), StoreEvaluation()),
    JobKind.PREDICT: _scoring(PredictInShards(), WriteOutput()),
    JobKind.PROFILE: _profiling,
}


def plan_for(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    """The plan of `job`'s kind; a kind this worker does not run fails the job with a message saying so."""
    planner = PLANNERS.get(job.kind)
    if planner is None:
        raise NotImplementedError(f"this worker does not run jobs of kind {job.kind.value!r}")
    return planner(job, settings, store, sweeps)
