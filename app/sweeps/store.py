"""SweepStore: the SQL of sweeps (the `sweep` table, app/sweeps/tables.py), with compare-and-set updates like the
job store, on the job store's engine (a sweep's trials are its jobs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, computed_field
from sqlalchemy import Engine, insert, select, update

from app.errors import SweepNotFound
from app.jobs.engine import utcnow
from app.sweeps.tables import create_sweep_table, sweep


class SweepStatus(StrEnum):
    #: Trials are being created and run.
    RUNNING = "running"
    #: All trials ended; the best model is published.
    SUCCEEDED = "succeeded"
    #: No trial completed, or publishing failed.
    FAILED = "failed"
    #: Stopped by a user; trials that had not ended were cancelled.
    CANCELLED = "cancelled"


class SweepRow(BaseModel):
    id: str
    status: SweepStatus
    model_name: str
    spec: dict[str, Any]
    study_name: str
    trials_created: int
    created_at: datetime
    finished_at: datetime | None
    model_version: int | None
    error: dict[str, str] | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def created(self) -> int:
        """`trials_created` under its first name, which clients of `GET /sweeps` may still read."""
        return self.trials_created


class SweepStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_sweep_table(engine)

    @staticmethod
    def new_ids() -> tuple[str, str]:
        """A new sweep's id and the name of its Optuna study (created before the sweep row, so that no worker
        ever finds a sweep without its study)."""
        sweep_id = str(uuid.uuid4())
        return sweep_id, f"maas-sweep-{sweep_id}"

    def create(self, sweep_id: str, *, study_name: str, model_name: str, spec: dict[str, Any]) -> SweepRow:
        row = {
            "id": sweep_id,
            "status": SweepStatus.RUNNING.value,
            "model_name": model_name,
            "spec": spec,
            "study_name": study_name,
            "trials_created": 0,
            "created_at": utcnow(),
        }
        with self.engine.begin() as conn:
            conn.execute(insert(sweep).values(**row))
        return self.read(sweep_id)

    def read(self, sweep_id: str) -> SweepRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(sweep).where(sweep.c.id == sweep_id)).mappings().first()
        if row is None:
            raise SweepNotFound(f"no sweep with id {sweep_id!r}")
        return SweepRow(**row)

    def read_all(self, status: SweepStatus | None = None, limit: int = 50, offset: int = 0) -> list[SweepRow]:
        query = select(sweep).order_by(sweep.c.created_at.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(sweep.c.status == status.value)
        with self.engine.connect() as conn:
            return [SweepRow(**row) for row in conn.execute(query).mappings()]

    def count_created(self, sweep_id: str, seen: int) -> bool:
        """Count one more trial as created, unless another worker did since `seen` was read."""
        query = update(sweep).where(
            sweep.c.id == sweep_id, sweep.c.trials_created == seen, sweep.c.status == SweepStatus.RUNNING.value
        )
        with self.engine.begin() as conn:
            return conn.execute(query.values(trials_created=seen + 1)).rowcount == 1

    def finish(self, sweep_id: str, status: SweepStatus, **values: Any) -> bool:
        """Move a running sweep to its end state (once: a compare-and-set on `running`)."""
        query = update(sweep).where(sweep.c.id == sweep_id, sweep.c.status == SweepStatus.RUNNING.value)
        with self.engine.begin() as conn:
            return conn.execute(query.values(status=status.value, finished_at=utcnow(), **values)).rowcount == 1
