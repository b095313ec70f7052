"""What runs inside a job's child process: load data, build, fit, publish, record the outcome.

The module imports nothing heavy at the top so that the parent can name it as a spawn target; the child itself
imports Keras once, before it is handed a job, which is what makes a pre-started child start a job at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from multiprocessing.connection import Connection

from app.jobs.store import JobStore
from app.settings import Settings

log = logging.getLogger("maas.child")


def _exit_when_orphaned(parent_pid: int) -> None:
    """A child must not outlive its supervisor: a crashed supervisor's job is requeued and run elsewhere."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(70)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def child_main(conn: Connection, settings: Settings, parent_pid: int) -> None:
    """Entry point of a spawned child: warm up, wait for one job id, run it, exit."""
    _exit_when_orphaned(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the logs
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Import the heavy modules now, while idle, so that a job starts without waiting for them.
    import app.training.pipeline
    import app.training.publish  # noqa: F401

    job_id = conn.recv()
    if job_id is not None:
        run_job(job_id, settings)


class _StoreReporter:
    """Writes what the training pipeline reports onto the job, as it happens."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str) -> None:
        self.store, self.job_id, self.worker_id = store, job_id, worker_id

    def epoch(self, epoch: int, epochs: int, logs: dict, fold: int | None, folds: int | None) -> None:
        self.store.record_epoch(self.job_id, self.worker_id, epoch, epochs, logs, fold=fold, folds=folds)

    def lr_range(self, curve: dict) -> None:
        self.store.record_details(self.job_id, self.worker_id, lr_range_test=curve)

    def cross_validation(self, cv: dict) -> None:
        self.store.record_details(self.job_id, self.worker_id, cv=cv)


def run_job(job_id: str, settings: Settings) -> None:
    """Train and publish one claimed job; any failure is recorded on the job, never raised."""
    from app.datasets import load_dataset
    from app.errors import ClaimLost
    from app.jobs.models import JobError, JobStatus, ModelRef
    from app.registry import LocalRegistry
    from app.training.pipeline import train
    from app.training.publish import publish_model
    from app.training.spec import TrainingSpec

    store = JobStore(settings.resolved_database_url)
    job = store.read_job(job_id)
    if job.status != JobStatus.RUNNING or job.worker is None:
        return  # cancelled between the claim and this child's start
    worker_id = job.worker.id
    try:
        spec = TrainingSpec.model_validate(job.spec)
        store.start_attempt(job_id, worker_id, spec.fit.epochs)
        data = load_dataset(spec.dataset, settings.datasets_dir)
        validation = spec.fit.validation_data and load_dataset(spec.fit.validation_data, settings.datasets_dir)
        outcome = train(spec, data, validation, _StoreReporter(store, job_id, worker_id))
        version = publish_model(LocalRegistry(settings.resolved_registry_dir), job_id, spec, data, outcome)
        model = ModelRef(name=version.name, version=version.version)
        store.succeed(job_id, worker_id, model, outcome.fit.final, outcome.test)
        log.info("job %s published %s v%d", job_id, version.name, version.version)
    except ClaimLost:
        log.info("job %s is no longer ours; stopping", job_id)
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s failed", job_id)
        store.fail(job_id, worker_id, JobError(type=type(exc).__name__, message=str(exc)[:2000]))
    finally:
        store.close()
