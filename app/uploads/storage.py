"""Which storage an upload's bytes go to: a local (or mounted) datasets folder, or object storage (S3)."""

from __future__ import annotations

from pathlib import Path

from app.storage import local_path
from app.uploads.local import LocalUploads
from app.uploads.objects import ObjectUploads

Uploads = LocalUploads | ObjectUploads


def open_uploads(location: str | Path) -> Uploads:
    """Uploads at the datasets location: appended to a file where it is a path, S3 multipart parts where it is not."""
    path = local_path(location)
    return LocalUploads(path) if path is not None else ObjectUploads(str(location))
