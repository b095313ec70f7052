"""Where a job's TensorBoard logs live, and how they leave the server: one `.tar.gz` of the whole folder.

Training writes `keras.callbacks.TensorBoard(log_dir=tensorboard_dir(settings, job_id) / phase)`; the API only
packs what is there. No TensorFlow here: the logs are plain files to this module.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from app.settings import Settings


def tensorboard_dir(settings: Settings, job_id: str) -> Path:
    """`<data_dir>/jobs/<job_id>/tensorboard`, absolute; ValueError for an id that would leave `jobs/`."""
    jobs = settings.jobs_dir
    folder = (jobs / job_id / "tensorboard").resolve()
    if folder.parent.parent != jobs:
        raise ValueError(f"not a job id: {job_id!r}")
    return folder


def has_logs(folder: Path) -> bool:
    """True once training has written at least one file under `folder`."""
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


def archive(folder: Path, root_name: str = "tensorboard") -> bytes:
    """The folder as gzipped tar bytes, its files under `root_name/` (logs are small: kilobytes per epoch).

    Files still being written are read as far as they go; TensorBoard reads event files that end mid-record.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=f"{root_name}/{path.relative_to(folder).as_posix()}", recursive=False)
    return buffer.getvalue()
