"""How a job's row changes: a compare-and-set on its status, or an update that holds only under a worker's claim.

Both the API side (claim, cancel, requeue) and a claimed job's writes (app/jobs/runs.py) go through these, so a
status never moves from a state it is no longer in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, update

from app.errors import ClaimLost
from app.jobs.schemas import JobStatus
from app.jobs.tables import job


def set_status(
    engine: Engine, job_id: str, new: JobStatus, *, expected: tuple[JobStatus, ...], where: Any = None, **values: Any
) -> bool:
    """Compare-and-set the status (and `values`) when it is one of `expected`; True when this call made the change."""
    query = update(job).where(job.c.id == job_id, job.c.status.in_([s.value for s in expected]))
    if where is not None:
        query = query.where(where)
    with engine.begin() as conn:
        return conn.execute(query.values(status=new.value, **values)).rowcount == 1


def update_owned(conn: Any, job_id: str, worker_id: str, **values: Any) -> None:
    """Update a job only while it runs under `worker_id`, inside the caller's transaction; ClaimLost otherwise."""
    owned = update(job).where(job.c.id == job_id, job.c.status == JobStatus.RUNNING.value, job.c.worker_id == worker_id)
    if conn.execute(owned.values(**values)).rowcount != 1:
        raise ClaimLost(f"job {job_id} is no longer running under worker {worker_id}")
