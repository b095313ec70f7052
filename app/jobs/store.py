"""JobStore: the jobs' database, on SQLAlchemy 2 Core, for SQLite (WAL) and PostgreSQL alike.

It owns the engine and reads, queues, claims, cancels and requeues jobs itself; the writes made under a worker's
claim (epochs, outcome) are its `runs` part (app/jobs/runs.py). State changes are compare-and-set updates
(`WHERE status = ...`, app/jobs/status.py), so that two workers never claim one job and a cancelled job is never
marked succeeded afterwards.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import RowMapping

from app.errors import JobNotFound
from app.jobs.engine import make_engine, utcnow
from app.jobs.events import Epochs
from app.jobs.rows import row_to_job
from app.jobs.runs import JobRuns
from app.jobs.schemas import Job, JobKind, JobStatus, Progress
from app.jobs.status import set_status
from app.jobs.tables import MAIN_FOLD, create_job_tables, job, job_epoch
from app.jobs.watch import read_epochs_from


class Claim(NamedTuple):
    status: JobStatus
    worker_id: str | None


class JobStore:
    """The jobs' database: its engine, the API side and the worker's bookkeeping here, a claimed job's writes in
    `runs`."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        create_job_tables(self.engine)
        self.runs = JobRuns(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # --- API side -------------------------------------------------------------------------------------

    def create_job(
        self,
        model_name: str,
        spec: dict[str, Any],
        *,
        epochs: int = 0,
        max_retries: int = 0,
        sweep_id: str | None = None,
        trial: int | None = None,
        kind: JobKind = JobKind.TRAIN,
        progress: Progress | None = None,
    ) -> Job:
        job_id = str(uuid.uuid4())
        row = {
            "id": job_id,
            "kind": kind.value,
            "status": JobStatus.QUEUED.value,
            "model_name": model_name,
            "spec": spec,
            "created_at": utcnow(),
            "attempts": 0,
            "max_retries": max_retries,
            "sweep_id": sweep_id,
            "trial": trial,
            "progress": (progress or Progress(epochs=epochs)).model_dump(),
        }
        with self.engine.begin() as conn:
            conn.execute(insert(job).values(**row))
        return self.read_job(job_id)

    def read_job(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(select(job).where(job.c.id == job_id)).mappings().first()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            return self._to_jobs(conn, [row])[0]

    def read_jobs(
        self,
        *,
        status: JobStatus | None = None,
        model_name: str | None = None,
        limit: int = 50,
        offset: int = 0,
        sweep_id: str | None = None,
        kind: JobKind | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally filtered."""
        query = select(job).order_by(job.c.created_at.desc(), job.c.id.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(job.c.status == status.value)
        if model_name is not None:
            query = query.where(job.c.model_name == model_name)
        if sweep_id is not None:
            query = query.where(job.c.sweep_id == sweep_id)
        if kind is not None:
            query = query.where(job.c.kind == kind.value)
        with self.engine.connect() as conn:
            return self._to_jobs(conn, list(conn.execute(query).mappings()))

    def read_epochs(self, job_id: str) -> Epochs:
        """Every recorded epoch of a job as (fold or None for the published model, epoch, metrics, samples per
        second or None), in the order they were trained: cross-validation folds first, then the final model."""
        return read_epochs_from(self.engine, job_id, 0)

    def count_by_status(self) -> dict[str, int]:
        """How many jobs are in each status (for metrics)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(job.c.status, func.count()).group_by(job.c.status)).all()
        return {status: int(count) for status, count in rows}

    def active_specs(self) -> list[dict[str, Any]]:
        """Specs of queued and running jobs (e.g. to refuse deleting a dataset one of them uses)."""
        active = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
        with self.engine.connect() as conn:
            return list(conn.execute(select(job.c.spec).where(job.c.status.in_(active))).scalars())

    def cancel(self, job_id: str) -> Job:
        """Mark a queued or running job cancelled; a finished job is left as it is (a no-op, not an error)."""
        self.read_job(job_id)
        active = (JobStatus.QUEUED, JobStatus.RUNNING)
        set_status(self.engine, job_id, JobStatus.CANCELLED, expected=active, finished_at=utcnow())
        return self.read_job(job_id)

    # --- worker side ----------------------------------------------------------------------------------

    def claim_next(self, worker_id: str) -> Job | None:
        """Claim the oldest queued job with a compare-and-set; None when there is nothing to claim."""
        candidates = (
            select(job.c.id).where(job.c.status == JobStatus.QUEUED.value).order_by(job.c.created_at, job.c.id).limit(8)
        )
        with self.engine.connect() as conn:
            ids = list(conn.execute(candidates).scalars())
        for job_id in ids:
            now = utcnow()
            claimed = set_status(
                self.engine,
                job_id,
                JobStatus.RUNNING,
                expected=(JobStatus.QUEUED,),
                worker_id=worker_id,
                worker_pid=None,
                started_at=now,
                heartbeat_at=now,
                attempts=job.c.attempts + 1,
            )
            if claimed:
                return self.read_job(job_id)
        return None

    def set_worker_pid(self, job_id: str, pid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(job).where(job.c.id == job_id).values(worker_pid=pid))

    def heartbeat(self, job_ids: Iterable[str], worker_id: str) -> None:
        ids = list(job_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(job)
                .where(job.c.id.in_(ids), job.c.worker_id == worker_id, job.c.status == JobStatus.RUNNING.value)
                .values(heartbeat_at=utcnow())
            )

    def claims(self, job_ids: Iterable[str]) -> dict[str, Claim]:
        """Status and owning worker of each job; a worker stops children whose job is no longer its own."""
        ids = list(job_ids)
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(job.c.id, job.c.status, job.c.worker_id).where(job.c.id.in_(ids)))
            return {job_id: Claim(JobStatus(status), worker_id) for job_id, status, worker_id in rows}

    def requeue_stale(self, stale_before: datetime) -> tuple[list[str], list[str]]:
        """Running jobs whose heartbeat is older than `stale_before` (their worker died): requeue those with
        retries left, fail the others. Returns (requeued ids, failed ids)."""
        stale = select(job.c.id, job.c.attempts, job.c.max_retries).where(
            job.c.status == JobStatus.RUNNING.value, job.c.heartbeat_at < stale_before
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(stale))
        requeued, failed = [], []
        still_stale = job.c.heartbeat_at < stale_before
        for job_id, attempts, max_retries in rows:
            if attempts <= max_retries:
                if set_status(
                    self.engine,
                    job_id,
                    JobStatus.QUEUED,
                    expected=(JobStatus.RUNNING,),
                    where=still_stale,
                    worker_id=None,
                    worker_pid=None,
                ):
                    requeued.append(job_id)
            elif set_status(
                self.engine,
                job_id,
                JobStatus.FAILED,
                expected=(JobStatus.RUNNING,),
                where=still_stale,
                finished_at=utcnow(),
                error=_lost(attempts),
            ):
                failed.append(job_id)
        return requeued, failed

    def requeue(self, job_id: str, worker_id: str) -> bool:
        """Give a running job back to the queue (its worker is shutting down)."""
        return set_status(
            self.engine,
            job_id,
            JobStatus.QUEUED,
            expected=(JobStatus.RUNNING,),
            where=job.c.worker_id == worker_id,
            worker_id=None,
            worker_pid=None,
        )

    # --- helpers --------------------------------------------------------------------------------------

    def _to_jobs(self, conn: Any, rows: list[RowMapping]) -> list[Job]:
        if not rows:
            return []
        epochs = conn.execute(
            select(job_epoch.c.job_id, job_epoch.c.metrics, job_epoch.c.seconds)
            .where(job_epoch.c.job_id.in_([r["id"] for r in rows]), job_epoch.c.fold == MAIN_FOLD)
            .order_by(job_epoch.c.job_id, job_epoch.c.epoch)
        )
        histories: dict[str, dict[str, list[float | None]]] = defaultdict(lambda: defaultdict(list))
        seconds: dict[str, list[float | None]] = defaultdict(list)
        for job_id, metrics, took in epochs:
            for name, value in metrics.items():
                histories[job_id][name].append(value)
            seconds[job_id].append(took)
        return [row_to_job(r, histories.get(r["id"], {}), seconds.get(r["id"], [])) for r in rows]


def _lost(attempts: int) -> dict[str, str]:
    message = f"the job's worker stopped responding {attempts} time(s); no retries left"
    return {"type": "WorkerLost", "message": message}
