"""Where maas keeps files that every replica and worker must see: a local path, or an fsspec URL
(`file:///srv/maas/registry`, `s3://bucket/prefix`) on shared storage.

S3 credentials and endpoint come from the usual AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_ENDPOINT_URL` for MinIO or another S3-compatible store), as boto reads them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fsspec is imported only where remote storage is used; settings import this module
    from fsspec import AbstractFileSystem


def is_url(location: str | Path) -> bool:
    """Whether `location` names storage through fsspec (scheme://...) rather than a plain local path."""
    return "://" in str(location)


def local_path(location: str | Path) -> Path | None:
    """The local path a location names (a plain path or a file:// URL), or None for remote storage."""
    text = str(location)
    if not is_url(text):
        return Path(text)
    if text.startswith("file://"):
        return Path(text.removeprefix("file://"))
    return None


def open_filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of `url` and the root path inside it, without a trailing slash. Listings are never
    cached: other replicas publish into the same storage."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, use_listings_cache=False)
    return fs, root.rstrip("/")


def download_folder(fs: AbstractFileSystem, remote: str, local: Path) -> Path:
    """Copy `remote` (a folder) to `local` once: downloaded beside it, then renamed into place, so a concurrent
    reader sees the whole folder or none. Returns `local`."""
    if local.is_dir():
        return local
    partial = local.with_name(f".{local.name}.{uuid.uuid4().hex}.partial")
    partial.mkdir(parents=True)
    try:
        for path in fs.find(remote):
            target = partial / os.path.relpath(path, remote)
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(target))
        try:
            os.rename(partial, local)
        except OSError:  # another reader finished first
            if not local.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return local


def upload_folder(fs: AbstractFileSystem, local: Path, remote: str, *, last: str | None = None) -> None:
    """Copy every file of `local` under `remote`; the file named `last` (a completion marker) goes last."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.relative_to(local).as_posix() == last)  # stable: the marker moves to the end
    for path in files:
        fs.put_file(str(path), f"{remote}/{path.relative_to(local).as_posix()}")
