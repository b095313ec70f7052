"""One job inside its child process: load the data, train (resuming from checkpoints), publish, record.

Imported only in the child: it pulls in Keras and TensorFlow.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from app.datasets import load_dataset
from app.errors import ClaimLost
from app.jobs.models import JobError, JobStatus, ModelRef
from app.jobs.store import JobStore
from app.registry import LocalRegistry
from app.settings import Settings
from app.training.checkpoints import Checkpoints
from app.training.pipeline import Reporter, train
from app.training.publish import publish_model
from app.training.spec import TrainingSpec

log = logging.getLogger("maas.child")


class StoreReporter(Reporter):
    """Writes what the training pipeline reports onto the job, as it happens."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str) -> None:
        self.store, self.job_id, self.worker_id = store, job_id, worker_id

    def epoch(self, epoch: int, epochs: int, logs: dict[str, Any], fold: int | None, folds: int | None) -> None:
        self.store.record_epoch(self.job_id, self.worker_id, epoch, epochs, logs, fold=fold, folds=folds)

    def resumed(self, fold: int | None, epoch: int) -> None:
        log.info("job %s resumes fold %s after epoch %d", self.job_id, fold, epoch)
        self.store.resume_attempt(self.job_id, self.worker_id, fold, epoch)

    def lr_range(self, curve: dict[str, Any]) -> None:
        self.store.record_details(self.job_id, self.worker_id, lr_range_test=curve)

    def cross_validation(self, cv: dict[str, Any]) -> None:
        self.store.record_details(self.job_id, self.worker_id, cv=cv)


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
            store.start_attempt(job_id, worker_id, spec.fit.epochs)
        data = load_dataset(spec.dataset, settings.datasets_dir)
        validation = spec.fit.validation_data and load_dataset(spec.fit.validation_data, settings.datasets_dir)
        reporter = StoreReporter(store, job_id, worker_id)
        outcome = train(spec, data, validation, reporter, checkpoints, work_dir / "tensorboard")
        version = publish_model(LocalRegistry(settings.resolved_registry_dir), job_id, spec, data, outcome)
        failpoint("after_publish")
        store.succeed(
            job_id, worker_id, ModelRef(name=version.name, version=version.version), outcome.fit.final, outcome.test
        )
        checkpoints.clear()
        log.info("job %s published %s v%d", job_id, version.name, version.version)
    except ClaimLost:
        log.info("job %s is no longer ours; stopping", job_id)
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s failed", job_id)
        store.fail(job_id, worker_id, JobError(type=type(exc).__name__, message=str(exc)[:2000]))
        checkpoints.clear()
    finally:
        store.close()
