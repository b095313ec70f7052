"""One job inside its child process: plan it by its kind (app/worker/job_kinds.py), run its strategy (resuming
from checkpoints), hand the outcome to its sink (publish a version, stage a sweep trial, store an evaluation,
write a batch's output), record how it ended.

Imports no Keras itself: the job's kind's planner brings in what that kind needs (job_kinds), so a profile or
batch-prediction child never loads TensorFlow.
"""

from __future__ import annotations

import logging
import resource
import sys

from app.errors import ClaimLost
from app.jobs.schemas import Job, JobError, JobStatus
from app.jobs.store import JobStore
from app.registry.retry import StorageUnavailable
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.checkpoints import Checkpoints
from app.worker.job_kinds import plan_for
from app.worker.outcomes import TrialPruned

log = logging.getLogger("maas.child")


def run_job(job_id: str, settings: Settings) -> None:
    """Run and deliver one claimed job; any failure is recorded on the job, never raised."""
    store = JobStore(settings.resolved_database_url)
    try:
        job = store.read_job(job_id)
        if job.status == JobStatus.RUNNING and job.worker is not None:  # else cancelled before this child started
            _run(store, SweepStore(store.engine), job, settings)
    finally:
        store.close()


def child_footprint() -> str:
    """What this child cost, for an operator sizing workers: its peak RSS (Linux reports ru_maxrss in KiB), and
    whether it loaded TensorFlow (a profile or batch-prediction child does not, unless its version had no
    verified ONNX export)."""
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loaded = "tensorflow" in sys.modules or "keras" in sys.modules
    return f"peak RSS {peak_mib:.0f} MiB, Keras/TensorFlow {'loaded' if loaded else 'not loaded'}"


def _run(store: JobStore, sweeps: SweepStore, job: Job, settings: Settings) -> None:
    assert job.worker is not None
    worker_id = job.worker.id
    checkpoints = Checkpoints(settings.jobs_dir / job.id / "checkpoints")
    try:
        plan = plan_for(job, settings, store, sweeps)
        reporter = plan.sink.watch(plan.context, plan.reporter)
        outcome = plan.strategy.run(plan.context, reporter)
        delivered = plan.sink.deliver(plan.context, outcome)
    except TrialPruned as pruned:
        store.runs.prune(job.id, worker_id, pruned.epoch)
        checkpoints.clear()
        return
    except ClaimLost:
        log.info("job %s is no longer ours; stopping", job.id)
        return
    except StorageUnavailable as exc:
        _retry_later(store, job, worker_id, exc, checkpoints)
        return
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s failed", job.id)
        store.runs.fail(job.id, worker_id, JobError(type=type(exc).__name__, message=str(exc)[:2000]))
        checkpoints.clear()
        return
    # The checkpoints go only once the outcome is recorded: if recording fails, this process dies with the
    # error, the supervisor retries the job, and the rerun resumes after the last epoch and delivers again
    # (a published version is given back, not published twice).
    # Logged before the job is recorded: once it is, the supervisor may end this process at any moment.
    log.info("job %s (%s) delivered; %s", job.id, job.kind.value, child_footprint())
    model = delivered.model
    store.runs.succeed(job.id, worker_id, model=model, final=delivered.final, test=delivered.test)
    if model is not None:
        log.info("job %s published %s v%d", job.id, model.name, model.version)
    checkpoints.clear()


def _retry_later(store: JobStore, job: Job, worker_id: str, exc: StorageUnavailable, checkpoints: Checkpoints) -> None:
    """Storage failed, not the job: keep its training for another attempt while it has retries left."""
    message = f"{exc} (attempt {job.attempts}); no retries left"
    moved = store.runs.retry_later(job.id, worker_id, JobError(type="StorageUnavailable", message=message[:2000]))
    if moved == JobStatus.QUEUED:
        log.warning(
            "job %s: %s; requeued with its checkpoints: the next attempt resumes and delivers again", job.id, exc
        )
    elif moved == JobStatus.FAILED:
        log.error("job %s: %s; no retries left: failed", job.id, exc)
        checkpoints.clear()
