"""Reporters that write what training tells them onto the job, under the worker's claim (ClaimLost once the job
is no longer ours, which stops training)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.jobs.runs import JobRuns
from app.jobs.store import JobStore
from app.training.fit import EpochTime, Logs
from app.training.pipeline import Reporter

log = logging.getLogger("maas.child")


class StoreReporter(Reporter):
    """Writes what the training pipeline reports onto the job, as it happens."""

    def __init__(self, runs: JobRuns, job_id: str, worker_id: str) -> None:
        self.runs, self.job_id, self.worker_id = runs, job_id, worker_id

    def epoch(
        self, epoch: int, epochs: int, logs: Logs, fold: int | None, folds: int | None, took: EpochTime | None = None
    ) -> None:
        self.runs.record_epoch(
            self.job_id,
            self.worker_id,
            epoch=epoch,
            epochs=epochs,
            metrics=logs,
            fold=fold,
            folds=folds,
            seconds=took.seconds if took is not None else None,
            samples=took.samples if took is not None else None,
        )

    def resumed(self, fold: int | None, epoch: int) -> None:
        log.info("job %s resumes fold %s after epoch %d", self.job_id, fold, epoch)
        self.runs.resume_attempt(self.job_id, self.worker_id, fold=fold, epoch=epoch)

    def lr_range(self, curve: dict[str, Any]) -> None:
        self.runs.record_details(self.job_id, self.worker_id, lr_range_test=curve)

    def cross_validation(self, cv: dict[str, Any]) -> None:
        self.runs.record_details(self.job_id, self.worker_id, cv=cv)


@dataclass(frozen=True)
class JobReporting:
    """How to report onto a job from any process: it pickles, and `open` connects to the jobs' database there
    (a data-parallel job's rank 0 reports from a Ray Train worker)."""

    database_url: str
    job_id: str
    worker_id: str

    @contextmanager
    def open(self) -> Iterator[StoreReporter]:
        store = JobStore(self.database_url)
        try:
            yield StoreReporter(store.runs, self.job_id, self.worker_id)
        finally:
            store.close()
