"""Training submissions and jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.accepted import accepted
from app.api.deps import SettingsDep, StoreDep, SupervisorDep
from app.jobs.schemas import Job, JobKind, JobStatus
from app.jobs.service import submit_job
from app.training.spec import TrainingSpec

router = APIRouter(tags=["training"])


@router.post("/train", status_code=202, response_model=Job)
def create_training_job(
    spec: TrainingSpec, response: Response, store: StoreDep, settings: SettingsDep, supervisor: SupervisorDep
) -> Job:
    """Check a training spec against its dataset and queue it as a job."""
    job = submit_job(store, spec, settings)
    accepted(response, supervisor, f"/jobs/{job.id}")
    return job


@router.get("/jobs", response_model=list[Job])
def read_jobs(
    store: StoreDep,
    status: JobStatus | None = None,
    model_name: str | None = None,
    sweep_id: str | None = None,
    kind: JobKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[Job]:
    """Jobs, newest first."""
    return store.read_jobs(
        status=status, model_name=model_name, limit=limit, offset=offset, sweep_id=sweep_id, kind=kind
    )


@router.get("/jobs/{job_id}", response_model=Job)
def read_job(job_id: str, store: StoreDep) -> Job:
    """One job with its progress and metric history."""
    return store.read_job(job_id)


@router.post("/jobs/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: str, store: StoreDep) -> Job:
    """Cancel a queued or running job; a finished job is returned as it is."""
    return store.cancel(job_id)
