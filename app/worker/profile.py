"""A profile job in its child: one streaming pass over a file-backed dataset (app/datasets/profiling.py), whose
outcome becomes the dataset's record: `ready` with rows, features, task, classes, statistics and hash, or
`failed` with the error (the job then fails with the same message).

Imports no Keras: its child is a light one (app/worker/job_kinds.py).

Progress counts `rows` against `total_rows`, which Parquet footers give up front; a CSV's total is known only at
the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.datasets.files import list_units
from app.datasets.loading import Catalog, open_catalog
from app.datasets.profiling import Profile, ProfileError, profile_files
from app.datasets.schemas import DatasetInfo
from app.errors import ClaimLost, DatasetNotFound, InvalidUpload
from app.jobs.runs import JobRuns
from app.jobs.schemas import Job
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.worker.outcomes import Delivery, Plan

if TYPE_CHECKING:
    from app.training.pipeline import Reporter


class ProfileFailed(Exception):
    """The dataset failed profiling; its record says why, and so does the job."""


@dataclass(frozen=True)
class ProfileContext:
    job: Job
    catalog: Catalog
    info: DatasetInfo
    runs: JobRuns
    worker_id: str

    def report_rows(self, rows: int, total_rows: int) -> None:
        """Progress, under the worker's claim: ClaimLost once the job was cancelled (the dataset deleted)."""
        self.runs.record_rows(self.job.id, self.worker_id, rows=rows, total_rows=total_rows)


def profile_context(job: Job, settings: Settings, store: JobStore) -> ProfileContext:
    assert job.worker is not None
    catalog = open_catalog(settings.datasets_location)
    info = catalog.read(job.spec["dataset"]["id"])
    return ProfileContext(job=job, catalog=catalog, info=info, runs=store.runs, worker_id=job.worker.id)


class ProfileDataset:
    """The record the pass ends with: `ready`, or `failed` naming the problem (an unexpected error too, so
    that no dataset stays `profiling` after its job ended)."""

    def run(self, job: ProfileContext, reporter: Reporter) -> DatasetInfo:
        info = job.info
        try:
            total = _parquet_rows(info)
            profile = profile_files(info, on_rows=lambda rows: job.report_rows(rows, max(total or 0, rows)))
        except ClaimLost:
            raise
        except ProfileError as exc:
            return info.model_copy(update={"status": "failed", "error": str(exc)})
        except Exception as exc:  # storage unreachable, or a bug: the dataset says so rather than hang
            return info.model_copy(
                update={"status": "failed", "error": f"profiling stopped: {type(exc).__name__}: {exc}"}
            )
        return _ready(info, profile)


def _parquet_rows(info: DatasetInfo) -> int | None:
    """The dataset's rows from the Parquet footers (cheap: no data is read); None for CSV."""
    if info.format != "parquet" or not info.files:
        return None
    try:
        return sum(unit.rows for unit in list_units(info.files, "parquet"))
    except InvalidUpload as exc:  # names the file that is not Parquet
        raise ProfileError(exc.detail) from exc


def _ready(info: DatasetInfo, profile: Profile) -> DatasetInfo:
    return info.model_copy(
        update={
            "status": "ready",
            "error": None,
            "rows": profile.rows,
            "features": profile.features,
            "feature_shape": [len(profile.features)],
            "task": profile.task,
            "classes": profile.classes,
            "sha256": profile.sha256,
            "feature_mean": profile.mean,
            "feature_std": profile.std,
        }
    )


class UpdateRecord:
    """The pass's record replaces the dataset's; a failed one fails the job too."""

    def watch(self, job: ProfileContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: ProfileContext, outcome: DatasetInfo) -> Delivery:
        rows = outcome.rows or 0
        if outcome.status == "ready":
            job.report_rows(rows, rows)  # still ours? A cancelled job (its dataset deleted) writes no record
        try:
            job.catalog.update(outcome)
        except DatasetNotFound as exc:
            raise ProfileFailed(f"dataset {outcome.id} was deleted while it was profiled") from exc
        if outcome.status == "failed":
            raise ProfileFailed(outcome.error)
        return Delivery(None, {"rows": float(rows)})


def plan(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    return Plan(profile_context(job, settings, store), ProfileDataset(), UpdateRecord())
