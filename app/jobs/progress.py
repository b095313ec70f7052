"""What a running job's child writes: its attempt, epochs, phase results and outcome.

Every write checks, in the same statement, that the job still runs under the writing worker; a worker that lost
its claim (the job was cancelled, or requeued and claimed by another) gets ClaimLost and stops.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, update

from app.errors import ClaimLost
from app.jobs.engine import utcnow
from app.jobs.schemas import JobError, JobStatus, ModelRef, Progress
from app.jobs.tables import MAIN_FOLD, job, job_epoch


class ProgressWrites:
    engine: Engine

    def _set_status(
        self,
        job_id: str,
        new: JobStatus,
        expected: tuple[JobStatus, ...],
        extra_where: Any = None,
        **values: Any,
    ) -> bool:
        """Compare-and-set the status; True when this call made the change."""
        query = update(job).where(job.c.id == job_id, job.c.status.in_([s.value for s in expected]))
        if extra_where is not None:
            query = query.where(extra_where)
        with self.engine.begin() as conn:
            return conn.execute(query.values(status=new.value, **values)).rowcount == 1

    def start_attempt(self, job_id: str, worker_id: str, epochs: int) -> None:
        """Begin training from scratch: forget what an earlier, interrupted attempt recorded."""
        with self.engine.begin() as conn:
            self._update_owned(
                conn,
                job_id,
                worker_id,
                progress=Progress(epochs=epochs).model_dump(),
                cv=None,
                lr_range_test=None,
                resumed_from=None,
            )
            conn.execute(delete(job_epoch).where(job_epoch.c.job_id == job_id))

    def resume_attempt(self, job_id: str, worker_id: str, fold: int | None, epoch: int) -> None:
        """Continue from a checkpoint after `epoch` of `fold`: epochs recorded past it (trained after the last
        checkpoint, before the crash) are dropped, to be trained and recorded again."""
        with self.engine.begin() as conn:
            self._update_owned(conn, job_id, worker_id, resumed_from=Progress(epoch=epoch, fold=fold).model_dump())
            conn.execute(
                delete(job_epoch).where(
                    job_epoch.c.job_id == job_id, job_epoch.c.fold == (fold or MAIN_FOLD), job_epoch.c.epoch > epoch
                )
            )

    def record_epoch(
        self,
        job_id: str,
        worker_id: str,
        epoch: int,
        epochs: int,
        metrics: dict[str, float | None],
        fold: int | None = None,
        folds: int | None = None,
    ) -> None:
        """Store one finished epoch (1-based) and advance the job's progress; ClaimLost if it is not ours."""
        progress = Progress(epoch=epoch, epochs=epochs, fold=fold, folds=folds).model_dump()
        fold_key = fold or MAIN_FOLD
        with self.engine.begin() as conn:
            self._update_owned(conn, job_id, worker_id, progress=progress, heartbeat_at=utcnow())
            conn.execute(
                delete(job_epoch).where(
                    job_epoch.c.job_id == job_id, job_epoch.c.fold == fold_key, job_epoch.c.epoch == epoch
                )
            )
            conn.execute(insert(job_epoch).values(job_id=job_id, fold=fold_key, epoch=epoch, metrics=metrics))

    def record_details(self, job_id: str, worker_id: str, **details: dict[str, Any]) -> None:
        """Store a finished phase's results on the job: `cv=` or `lr_range_test=`."""
        assert set(details) <= {"cv", "lr_range_test"}, details
        with self.engine.begin() as conn:
            self._update_owned(conn, job_id, worker_id, **details)

    def succeed(
        self,
        job_id: str,
        worker_id: str,
        model: ModelRef | None,
        final: dict[str, float | None],
        test: dict[str, float | None] | None = None,
    ) -> bool:
        return self._set_status(
            job_id,
            JobStatus.SUCCEEDED,
            (JobStatus.RUNNING,),
            extra_where=job.c.worker_id == worker_id,
            finished_at=utcnow(),
            model_version=model.version if model is not None else None,
            final_metrics=final,
            test_metrics=test,
        )

    def prune(self, job_id: str, worker_id: str, epoch: int) -> bool:
        """A sweep's pruner stopped this trial after `epoch`: it ends `pruned`, not failed."""
        message = f"pruned after epoch {epoch}: its intermediate objective was worse than the other trials'"
        return self._set_status(
            job_id,
            JobStatus.PRUNED,
            (JobStatus.RUNNING,),
            extra_where=job.c.worker_id == worker_id,
            finished_at=utcnow(),
            error={"type": "Pruned", "message": message},
        )

    def fail(self, job_id: str, worker_id: str, error: JobError) -> bool:
        return self._set_status(
            job_id,
            JobStatus.FAILED,
            (JobStatus.RUNNING,),
            extra_where=job.c.worker_id == worker_id,
            finished_at=utcnow(),
            error=error.model_dump(),
        )

    @staticmethod
    def _update_owned(conn: Any, job_id: str, worker_id: str, **values: Any) -> None:
        """Update a job only while it runs under `worker_id`, inside the caller's transaction."""
        owned = update(job).where(
            job.c.id == job_id, job.c.status == JobStatus.RUNNING.value, job.c.worker_id == worker_id
        )
        if conn.execute(owned.values(**values)).rowcount != 1:
            raise ClaimLost(f"job {job_id} is no longer running under worker {worker_id}")
