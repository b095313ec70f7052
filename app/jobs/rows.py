"""From a `job` row and its epochs to the Job that clients see."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from app.jobs.schemas import Job, JobError, JobKind, JobMetrics, JobStatus, ModelRef, Progress, WorkerInfo


def samples_per_second(seconds: float | None, samples: int | None) -> float | None:
    """An epoch's training rows per wall second, where it was timed."""
    return samples / seconds if samples is not None and seconds else None


def row_to_job(row: RowMapping, history: dict[str, list[float]], epoch_seconds: list[float | None]) -> Job:
    model = ModelRef(name=row["model_name"], version=row["model_version"]) if row["model_version"] else None
    worker = WorkerInfo(id=row["worker_id"], pid=row["worker_pid"]) if row["worker_id"] else None
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        status=JobStatus(row["status"]),
        model_name=row["model_name"],
        spec=row["spec"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        progress=Progress(**row["progress"]),
        metrics=JobMetrics(
            history=dict(history),
            final=row["final_metrics"] or {},
            cv=row["cv"],
            test=row["test_metrics"],
            lr_range_test=row["lr_range_test"],
            epoch_seconds=epoch_seconds,
        ),
        model=model,
        error=JobError(**row["error"]) if row["error"] else None,
        attempts=row["attempts"],
        resumed_from=Progress(**row["resumed_from"]) if row["resumed_from"] else None,
        sweep_id=row["sweep_id"],
        trial=row["trial"],
        worker=worker,
    )
