"""A job's TensorBoard logs, downloaded as one `.tar.gz` to open with `tensorboard --logdir`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import SettingsDep, StoreDep
from app.errors import NotFound
from app.jobs.tensorboard import archive, has_logs, tensorboard_dir

router = APIRouter(tags=["training"])


@router.get(
    "/jobs/{job_id}/tensorboard",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}, 404: {"description": "No such job, or no logs yet"}},
)
def read_tensorboard_logs(job_id: str, store: StoreDep, settings: SettingsDep) -> Response:
    """The job's TensorBoard event files as a `.tar.gz` (one folder per training phase)."""
    job = store.read_job(job_id)
    folder = tensorboard_dir(settings, job.id)
    if not has_logs(folder):
        raise NotFound(f"job {job.id} has no TensorBoard logs yet")
    disposition = f'attachment; filename="{job.id}-tensorboard.tar.gz"'
    body = archive(folder, root_name=job.id)
    return Response(body, media_type="application/gzip", headers={"Content-Disposition": disposition})
