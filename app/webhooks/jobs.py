"""Job events, read from the job table: the worker writes a job's terminal status, and the dispatcher polls for
jobs finished since its cursor, so the worker knows nothing about webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, select

from app.jobs.tables import job

TERMINAL = {"succeeded": "job.succeeded", "failed": "job.failed", "cancelled": "job.cancelled"}


class Event(NamedTuple):
    id: str
    type: str
    data: dict[str, Any]


def finished_since(engine: Engine, since: datetime, limit: int = 500) -> tuple[list[Event], datetime]:
    """Events of the jobs finished at or after `since` (a job published by a success is a `version.published`
    too), and the cursor to read from next."""
    query = (
        select(job.c.id, job.c.status, job.c.model_name, job.c.model_version, job.c.error, job.c.finished_at)
        .where(job.c.finished_at >= since, job.c.status.in_(list(TERMINAL)))
        .order_by(job.c.finished_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    events = [event for row in rows for event in _events(row)]
    return events, max((row["finished_at"] for row in rows), default=since)


def _events(row: Any) -> list[Event]:
    data = {
        "job_id": row["id"],
        "status": row["status"],
        "model_name": row["model_name"],
        "finished_at": row["finished_at"].isoformat(),
        "model": None if row["model_version"] is None else {"name": row["model_name"], "version": row["model_version"]},
        "error": row["error"],
    }
    events = [Event(f"job:{row['id']}:{row['status']}", TERMINAL[row["status"]], data)]
    if row["status"] == "succeeded" and row["model_version"] is not None:
        published = {"name": row["model_name"], "version": row["model_version"], "job_id": row["id"]}
        events.append(Event(f"version:{row['model_name']}:{row['model_version']}", "version.published", published))
    return events
