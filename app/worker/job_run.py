"""One job inside its child process: load the data, train (resuming from checkpoints), publish, record.

Imported only in the child: it pulls in Keras and TensorFlow.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from app.datasets import load_dataset
from app.errors import ClaimLost
from app.jobs.schemas import Job, JobError, JobStatus, ModelRef
from app.jobs.store import JobStore
from app.registry import open_registry
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.checkpoints import Checkpoints
from app.training.pipeline import Reporter, train
from app.training.publish import publish_model, stage_trial_model
from app.training.spec import TrainingSpec

log = logging.getLogger("maas.child")


class StoreReporter(Reporter):
    """Writes what the training pipeline reports onto the job, as it happens."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str) -> None:
        self.store, self.job_id, self.worker_id = store, job_id, worker_id

    def epoch(self, epoch: int, epochs: int, logs: dict[str, Any], fold: int | None, folds: int | None) -> None:
        self.store.runs.record_epoch(
            self.job_id, self.worker_id, epoch=epoch, epochs=epochs, metrics=logs, fold=fold, folds=folds
        )

    def resumed(self, fold: int | None, epoch: int) -> None:
        log.info("job %s resumes fold %s after epoch %d", self.job_id, fold, epoch)
        self.store.runs.resume_attempt(self.job_id, self.worker_id, fold=fold, epoch=epoch)

    def lr_range(self, curve: dict[str, Any]) -> None:
        self.store.runs.record_details(self.job_id, self.worker_id, lr_range_test=curve)

    def cross_validation(self, cv: dict[str, Any]) -> None:
        self.store.runs.record_details(self.job_id, self.worker_id, cv=cv)


class TrialPruned(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch


class TrialReporter(StoreReporter):
    """A sweep trial also reports its objective to Optuna each epoch, and stops when the pruner says so."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str, trial: Any, metric: str) -> None:
        super().__init__(store, job_id, worker_id)
        self.trial, self.metric = trial, metric

    def epoch(self, epoch: int, epochs: int, logs: dict[str, Any], fold: int | None, folds: int | None) -> None:
        super().epoch(epoch, epochs, logs, fold, folds)
        value = logs.get(self.metric)
        if fold is None and value is not None:
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                raise TrialPruned(epoch)


def _reporter(store: JobStore, sweeps: SweepStore, job: Job, settings: Settings) -> StoreReporter:
    assert job.worker is not None
    worker_id = job.worker.id
    if job.sweep_id is None or job.trial is None:
        return StoreReporter(store, job.id, worker_id)
    from app.sweeps.spec import SweepSpec
    from app.sweeps.study import open_study, trial_handle

    row = sweeps.read(job.sweep_id)
    spec = SweepSpec.model_validate(row.spec)
    study = open_study(spec, row.study_name, settings.resolved_database_url)
    return TrialReporter(store, job.id, worker_id, trial_handle(study, job.trial), spec.objective.metric)


def failpoint(name: str) -> None:
    """Die here, as a crash would, when MAAS_FAILPOINT names this point: lets the crash tests hit the exact
    moment they are about (e.g. between publishing a model and recording it), which a timed kill cannot."""
    if os.environ.get("MAAS_FAILPOINT") == name:
        os._exit(137)


def run_job(job_id: str, settings: Settings) -> None:
    """Train and publish one claimed job; any failure is recorded on the job, never raised."""
    store = JobStore(settings.resolved_database_url)
    job = store.read_job(job_id)
    if job.status != JobStatus.RUNNING or job.worker is None:
        return  # cancelled between the claim and this child's start
    worker_id = job.worker.id
    work_dir = settings.jobs_dir / job_id
    checkpoints = Checkpoints(work_dir / "checkpoints")
    try:
        spec = TrainingSpec.model_validate(job.spec)
        if not checkpoints.exists:
            store.runs.start_attempt(job_id, worker_id, spec.fit.epochs)
        data = load_dataset(spec.dataset, settings.datasets_location)
        validation = spec.fit.validation_data and load_dataset(spec.fit.validation_data, settings.datasets_location)
        reporter = _reporter(store, SweepStore(store.engine), job, settings)
        if spec.resources.workers > 1:  # data-parallel across Ray Train workers (MAAS_EXECUTOR=ray only)
            from app.worker import ray_train

            outcome = ray_train.train_data_parallel(job_id, worker_id, settings, spec, data, validation, checkpoints)
            publish = ray_train.publish_data_parallel
        else:
            outcome = train(spec, data, validation, reporter, checkpoints, work_dir / "tensorboard")
            publish = publish_model
        if job.sweep_id is not None:  # the sweep publishes its best trial's model once all have ended
            stage_trial_model(work_dir, job_id, spec, data, outcome)
            store.runs.succeed(job_id, worker_id, model=None, final=outcome.fit.final, test=outcome.test)
        else:
            version = publish(
                open_registry(settings.registry_location, settings.cache_dir), job_id, spec, data, outcome
            )
            failpoint("after_publish")
            model = ModelRef(name=version.name, version=version.version)
            store.runs.succeed(job_id, worker_id, model=model, final=outcome.fit.final, test=outcome.test)
            log.info("job %s published %s v%d", job_id, version.name, version.version)
        checkpoints.clear()
    except TrialPruned as pruned:
        store.runs.prune(job_id, worker_id, pruned.epoch)
        checkpoints.clear()
    except ClaimLost:
        log.info("job %s is no longer ours; stopping", job_id)
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s failed", job_id)
        store.runs.fail(job_id, worker_id, JobError(type=type(exc).__name__, message=str(exc)[:2000]))
        checkpoints.clear()
    finally:
        store.close()
