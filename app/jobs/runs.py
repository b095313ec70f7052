"""What is written about a job while a worker holds its claim: its attempt, epochs, phase results and outcome.

Every write checks, in the same statement, that the job still runs under the writing worker; a worker that lost
its claim (the job was cancelled, or requeued and claimed by another) gets ClaimLost, or False for an outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert

from app.jobs.engine import utcnow
from app.jobs.rows import samples_per_second
from app.jobs.schemas import JobError, JobStatus, ModelRef, Progress
from app.jobs.status import set_status, update_owned
from app.jobs.tables import MAIN_FOLD, job, job_epoch


class JobRuns:
    """The writes of a claimed job's run: its child's progress, and the outcome its child or worker records."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start_attempt(self, job_id: str, worker_id: str, epochs: int) -> None:
        """Begin training from scratch: forget what an earlier, interrupted attempt recorded."""
        with self.engine.begin() as conn:
            update_owned(
                conn,
                job_id,
                worker_id,
                progress=Progress(epochs=epochs).model_dump(),
                cv=None,
                lr_range_test=None,
                resumed_from=None,
            )
            conn.execute(delete(job_epoch).where(job_epoch.c.job_id == job_id))

    def resume_attempt(self, job_id: str, worker_id: str, *, fold: int | None, epoch: int) -> None:
        """Continue from a checkpoint after `epoch` of `fold`: epochs recorded past it (trained after the last
        checkpoint, before the crash) are dropped, to be trained and recorded again."""
        with self.engine.begin() as conn:
            update_owned(conn, job_id, worker_id, resumed_from=Progress(epoch=epoch, fold=fold).model_dump())
            conn.execute(
                delete(job_epoch).where(
                    job_epoch.c.job_id == job_id, job_epoch.c.fold == (fold or MAIN_FOLD), job_epoch.c.epoch > epoch
                )
            )

    def record_epoch(
        self,
        job_id: str,
        worker_id: str,
        *,
        epoch: int,
        epochs: int,
        metrics: dict[str, float | None],
        fold: int | None = None,
        folds: int | None = None,
        seconds: float | None = None,
        samples: int | None = None,
    ) -> None:
        """Store one finished epoch (1-based), which took `seconds` over `samples` training rows, and advance the
        job's progress; ClaimLost if it is not ours."""
        rate = samples_per_second(seconds, samples)
        progress = Progress(epoch=epoch, epochs=epochs, fold=fold, folds=folds, samples_per_second=rate).model_dump()
        fold_key = fold or MAIN_FOLD
        with self.engine.begin() as conn:
            update_owned(conn, job_id, worker_id, progress=progress, heartbeat_at=utcnow())
            conn.execute(
                delete(job_epoch).where(
                    job_epoch.c.job_id == job_id, job_epoch.c.fold == fold_key, job_epoch.c.epoch == epoch
                )
            )
            conn.execute(
                insert(job_epoch).values(
                    job_id=job_id, fold=fold_key, epoch=epoch, metrics=metrics, seconds=seconds, samples=samples
                )
            )

    def record_rows(self, job_id: str, worker_id: str, *, rows: int, total_rows: int) -> None:
        """A scoring job's progress: `rows` of `total_rows` done; ClaimLost if it is not ours."""
        progress = Progress(rows=rows, total_rows=total_rows).model_dump()
        with self.engine.begin() as conn:
            update_owned(conn, job_id, worker_id, progress=progress, heartbeat_at=utcnow())

    def record_details(self, job_id: str, worker_id: str, **details: dict[str, Any]) -> None:
        """Store a finished phase's results on the job: `cv=` or `lr_range_test=`."""
        assert set(details) <= {"cv", "lr_range_test"}, details
        with self.engine.begin() as conn:
            update_owned(conn, job_id, worker_id, **details)

    def succeed(
        self,
        job_id: str,
        worker_id: str,
        *,
        model: ModelRef | None,
        final: dict[str, float | None],
        test: dict[str, float | None] | None = None,
    ) -> bool:
        """The run ended well; `model` is the version it published (None: a sweep trial, published later)."""
        return self._end(
            job_id,
            worker_id,
            JobStatus.SUCCEEDED,
            model_version=model.version if model is not None else None,
            final_metrics=final,
            test_metrics=test,
        )

    def prune(self, job_id: str, worker_id: str, epoch: int) -> bool:
        """A sweep's pruner stopped this trial after `epoch`: it ends `pruned`, not failed."""
        message = f"pruned after epoch {epoch}: its intermediate objective was worse than the other trials'"
        return self._end(job_id, worker_id, JobStatus.PRUNED, error={"type": "Pruned", "message": message})

    def fail(self, job_id: str, worker_id: str, error: JobError) -> bool:
        return self._end(job_id, worker_id, JobStatus.FAILED, error=error.model_dump())

    def retry_later(self, job_id: str, worker_id: str, error: JobError) -> JobStatus | None:
        """A run that could not finish for a reason outside the job (its storage kept failing): back to the
        queue while it has retries left (`attempts <= max_retries`, as for a dead worker's job), where the next
        attempt resumes from its checkpoints; else failed with `error`. Returns the status it moved to, None
        when it no longer runs under `worker_id`."""
        requeued = set_status(
            self.engine,
            job_id,
            JobStatus.QUEUED,
            expected=(JobStatus.RUNNING,),
            where=(job.c.worker_id == worker_id) & (job.c.attempts <= job.c.max_retries),
            worker_id=None,
            worker_pid=None,
        )
        if requeued:
            return JobStatus.QUEUED
        return JobStatus.FAILED if self.fail(job_id, worker_id, error) else None

    def _end(self, job_id: str, worker_id: str, status: JobStatus, **values: Any) -> bool:
        """Move the job from running under `worker_id` to `status`; False when it no longer runs under it."""
        return set_status(
            self.engine,
            job_id,
            status,
            expected=(JobStatus.RUNNING,),
            where=job.c.worker_id == worker_id,
            finished_at=utcnow(),
            **values,
        )
