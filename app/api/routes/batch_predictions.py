"""Batch predictions: queue one (a job of kind `predict`) and fetch its output file."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from app.api.accepted import accepted
from app.api.deps import RegistryDep, SettingsDep, StoreDep, SupervisorDep
from app.batch.schemas import BatchPredictionRequest
from app.batch.service import output_path, submit_batch_prediction
from app.jobs.schemas import Job

router = APIRouter(tags=["batch predictions"])

MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}


@router.post("/batch-predictions", status_code=202, response_model=Job)
def create_batch_prediction(
    body: BatchPredictionRequest,
    response: Response,
    store: StoreDep,
    registry: RegistryDep,
    settings: SettingsDep,
    supervisor: SupervisorDep,
) -> Job:
    """Queue scoring every row of a dataset with a version; `GET /jobs/{id}/output` once it succeeded."""
    job = submit_batch_prediction(store, registry, settings, body)
    accepted(response, supervisor, f"/jobs/{job.id}")
    return job


@router.get("/jobs/{job_id}/output", response_class=FileResponse, responses={409: {"description": "Not finished"}})
def read_output(job_id: str, store: StoreDep, settings: SettingsDep) -> FileResponse:
    """A succeeded batch prediction's file (409 before it succeeded)."""
    job = store.read_job(job_id)
    path = output_path(settings, job)
    fmt = job.spec["format"]
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=f"{job.model_name}-{job.id}.{fmt}")
