"""Profiling a file-backed dataset (a registered source, a finished resumable upload): mark its record
`profiling` and queue a job of kind `profile`, which a worker runs (app/worker/profile.py); stop that job when
the dataset is deleted; and settle a record whose job ended without writing it (its process died past its
retries, or a user cancelled it), so that no dataset says `profiling` for ever.

It lives at the API layer because it joins the catalog and the job store, which `app.datasets` must not import.
"""

from __future__ import annotations

from app.datasets.loading import Catalog
from app.datasets.schemas import DatasetInfo
from app.errors import DatasetNotFound
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


def settle(*, catalog: Catalog, store: JobStore, infos: list[DatasetInfo]) -> list[DatasetInfo]:
    """`infos`, where a `profiling` one whose newest profile job ended unsucceeded is marked `failed` (stored)."""
    waiting = {info.id for info in infos if info.status == "profiling"}
    if not waiting:
        return infos
    newest: dict[str, Job] = {}
    for job in store.read_jobs(kind=JobKind.PROFILE, limit=500):  # newest first
        newest.setdefault(job.spec.get("dataset", {}).get("id"), job)
    return [_settled(catalog, info, newest.get(info.id)) if info.id in waiting else info for info in infos]


def _settled(catalog: Catalog, info: DatasetInfo, job: Job | None) -> DatasetInfo:
    if job is None or not job.status.terminal or job.status == JobStatus.SUCCEEDED:
        return info
    why = job.error.message if job.error is not None else f"its profile job {job.id} was {job.status.value}"
    failed = info.model_copy(update={"status": "failed", "error": f"profiling did not finish: {why}"})
    try:
        return catalog.update(failed)
    except DatasetNotFound:  # deleted meanwhile
        return info
