"""The `sweep` table, on the job tables' metadata: one `create_all` on the jobs' database makes it too."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Engine, Integer, String, Table, inspect, text

from app.jobs.tables import UTCDateTime, metadata

# A hyperparameter sweep: its request, how many trial jobs it created, and its outcome.
sweep = Table(
    "sweep",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(16), nullable=False, index=True),
    Column("model_name", String(64), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("study_name", String(64), nullable=False),
    Column("trials_created", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("model_version", Integer),
    Column("error", JSON),
)


def create_sweep_table(engine: Engine) -> None:
    """Make the table if missing; one made before its trial count was named `trials_created` gets the new name
    (SQLite 3.25+ and PostgreSQL both rename a column in place)."""
    metadata.create_all(engine, tables=[sweep])
    columns = {column["name"] for column in inspect(engine).get_columns("sweep")}
    if "created" in columns and "trials_created" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE sweep RENAME COLUMN created TO trials_created"))
