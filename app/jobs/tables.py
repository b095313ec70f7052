"""The job tables (SQLAlchemy Core). Portable types only, so one schema serves SQLite and PostgreSQL.

`metadata` is shared with the other tables on the jobs' database (app/sweeps/tables.py), so that one
`create_all` makes them all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    inspect,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


MAIN_FOLD = 0  # job_epoch.fold of the model that gets published; 1..k are cross-validation folds

metadata = MetaData()

job = Table(
    "job",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False, index=True, default="train", server_default="train"),
    Column("status", String(16), nullable=False, index=True),
    Column("model_name", String(64), nullable=False, index=True),
    Column("spec", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("worker_id", String(128)),
    Column("worker_pid", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_retries", Integer, nullable=False, default=0),
    Column("resumed_from", JSON),
    Column("progress", JSON, nullable=False),
    Column("final_metrics", JSON),
    Column("cv", JSON),
    Column("lr_range_test", JSON),
    Column("test_metrics", JSON),
    Column("model_version", Integer),
    Column("error", JSON),
    Column("sweep_id", String(36), index=True),
    Column("trial", Integer),  # the Optuna trial number, for a sweep's trial jobs
)

# One row per finished epoch: the primary key makes a doubled epoch impossible.
job_epoch = Table(
    "job_epoch",
    metadata,
    Column("job_id", String(36), ForeignKey("job.id", ondelete="CASCADE"), primary_key=True),
    Column("fold", Integer, primary_key=True),  # 0 = the model that gets published; 1..k cross-validation folds
    Column("epoch", Integer, primary_key=True),
    Column("metrics", JSON, nullable=False),
    Column("seconds", Float),  # how long the epoch took, training and validation; null for older rows
    Column("samples", Integer),  # the training rows it went through; null for older rows
)


def create_job_tables(engine: Engine) -> None:
    """Make the tables if missing; a `job` table made before jobs had a kind gets the column (all its jobs train),
    a `job_epoch` table made before epochs were timed gets `seconds` and `samples` (null: not timed)."""
    metadata.create_all(engine)
    columns = {column["name"] for column in inspect(engine).get_columns("job")}
    if "kind" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE job ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'train'"))
    timed = {column["name"] for column in inspect(engine).get_columns("job_epoch")}
    for name, kind in (("seconds", "FLOAT"), ("samples", "INTEGER")):
        if name not in timed:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE job_epoch ADD COLUMN {name} {kind}"))
