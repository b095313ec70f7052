"""Profiling a file-backed dataset (a registered source, a finished resumable upload): mark its record
`profiling` and queue a job of kind `profile`, which a worker runs (app/worker/profile.py); and stop that job
when the dataset is deleted.

It lives at the API layer because it joins the catalog and the job store, which `app.datasets` must not import.
"""

from __future__ import annotations

from app.datasets.loading import Catalog
from app.datasets.schemas import DatasetInfo
from app.jobs.schemas import Job, JobKind, JobStatus, Progress
from app.jobs.store import JobStore

#: A profile job's process that dies (out of memory, a lost node) is retried this often before the job fails.
PROFILE_RETRIES = 2


def begin_profiling(*, catalog: Catalog, store: JobStore, info: DatasetInfo) -> DatasetInfo:
    """Mark the dataset `profiling` and queue its profile job; returns the record as stored.

    Not held back by MAAS_MAX_QUEUED: the data is already there (registered or uploaded), and a profile job is
    one streaming pass, so refusing it would only strand the dataset.
    """
    if info.status != "profiling":
        info = catalog.update(info.model_copy(update={"status": "profiling", "error": None}))
    store.create_job(
        "",  # a profile job belongs to no model
        {"dataset": {"id": info.id}},
        kind=JobKind.PROFILE,
        max_retries=PROFILE_RETRIES,
        progress=Progress(rows=0),
    )
    return info


def profile_jobs(store: JobStore, dataset_id: str) -> list[Job]:
    """The queued and running profile jobs of a dataset."""
    jobs = []
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        jobs += store.read_jobs(status=status, kind=JobKind.PROFILE, limit=500)
    return [job for job in jobs if job.spec.get("dataset", {}).get("id") == dataset_id]


def cancel_profiling(store: JobStore, dataset_id: str) -> None:
    """Cancel the dataset's profile job, if one is queued or running (its worker stops it within seconds)."""
    for job in profile_jobs(store, dataset_id):
        store.cancel(job.id)
