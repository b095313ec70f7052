"""One job inside its child process: load the data, train it by its strategy (resuming from checkpoints), hand
the outcome to its sink (publish a version, stage a sweep trial), record how it ended.

Imported only in the child: it pulls in Keras and TensorFlow.
"""

from __future__ import annotations

import logging

from app.datasets import load_dataset
from app.errors import ClaimLost
from app.jobs.schemas import Job, JobError, JobStatus
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.checkpoints import Checkpoints
from app.training.model_source import model_source
from app.training.spec import TrainingSpec
from app.worker.context import JobContext
from app.worker.job_kinds import sink_for, strategy_for
from app.worker.reporters import JobReporting, StoreReporter
from app.worker.sinks import TrialPruned

log = logging.getLogger("maas.child")


def run_job(job_id: str, settings: Settings) -> None:
    """Train and deliver one claimed job; any failure is recorded on the job, never raised."""
    store = JobStore(settings.resolved_database_url)
    try:
        job = store.read_job(job_id)
        if job.status == JobStatus.RUNNING and job.worker is not None:  # else cancelled before this child started
            _run(store, SweepStore(store.engine), job, settings)
    finally:
        store.close()


def _run(store: JobStore, sweeps: SweepStore, job: Job, settings: Settings) -> None:
    assert job.worker is not None
    worker_id = job.worker.id
    checkpoints = Checkpoints(settings.jobs_dir / job.id / "checkpoints")
    try:
        spec = TrainingSpec.model_validate(job.spec)
        if not checkpoints.exists:
            store.runs.start_attempt(job.id, worker_id, spec.fit.epochs)
        context = _context(job, settings, spec, checkpoints)
        sink = sink_for(job, sweeps)
        reporter = sink.watch(context, StoreReporter(store.runs, job.id, worker_id))
        outcome = strategy_for(spec).train(context, reporter)
        model = sink.deliver(context, outcome)
        store.runs.succeed(job.id, worker_id, model=model, final=outcome.fit.final, test=outcome.test)
        if model is not None:
            log.info("job %s published %s v%d", job.id, model.name, model.version)
        checkpoints.clear()
    except TrialPruned as pruned:
        store.runs.prune(job.id, worker_id, pruned.epoch)
        checkpoints.clear()
    except ClaimLost:
        log.info("job %s is no longer ours; stopping", job.id)
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s failed", job.id)
        store.runs.fail(job.id, worker_id, JobError(type=type(exc).__name__, message=str(exc)[:2000]))
        checkpoints.clear()


def _context(job: Job, settings: Settings, spec: TrainingSpec, checkpoints: Checkpoints) -> JobContext:
    assert job.worker is not None
    data = load_dataset(spec.dataset, settings.datasets_location)
    validation = spec.fit.validation_data and load_dataset(spec.fit.validation_data, settings.datasets_location)
    return JobContext(
        job=job,
        settings=settings,
        spec=spec,
        data=data,
        validation=validation,
        source=model_source(spec, data.feature_shape),
        checkpoints=checkpoints,
        reporting=JobReporting(settings.resolved_database_url, job.id, job.worker.id),
    )
