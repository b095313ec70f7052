"""The `evaluation` table, on the job tables' metadata (one row per evaluate job, keyed by its id, so that a
retried job replaces its row rather than adding one)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Engine, Integer, String, Table, delete, insert, select

from app.evaluation.schemas import Evaluation
from app.jobs.tables import UTCDateTime, metadata

evaluation = Table(
    "evaluation",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("model_name", String(64), nullable=False, index=True),
    Column("model_version", Integer, nullable=False),
    Column("dataset_sha256", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("body", JSON, nullable=False),
)


class EvaluationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[evaluation])

    def save(self, result: Evaluation) -> None:
        row = {
            "job_id": result.job_id,
            "model_name": result.model.name,
            "model_version": result.model.version,
            "dataset_sha256": result.dataset.sha256,
            "created_at": result.created_at,
            "body": result.model_dump(mode="json"),
        }
        with self.engine.begin() as conn:
            conn.execute(delete(evaluation).where(evaluation.c.job_id == result.job_id))
            conn.execute(insert(evaluation).values(**row))

    def list(self, name: str, *, version: int | None = None, dataset_sha256: str | None = None) -> list[Evaluation]:
        """A model's evaluations, oldest first, of one version or on one dataset."""
        query = select(evaluation.c.body).where(evaluation.c.model_name == name)
        if version is not None:
            query = query.where(evaluation.c.model_version == version)
        if dataset_sha256 is not None:
            query = query.where(evaluation.c.dataset_sha256 == dataset_sha256)
        query = query.order_by(evaluation.c.model_version, evaluation.c.created_at)
        with self.engine.connect() as conn:
            return [Evaluation.model_validate(body) for body in conn.execute(query).scalars()]
