"""An uploaded file into a Dataset: the format from the file name's extension, then that format's reader."""

from __future__ import annotations

from pathlib import Path

from app.datasets.checks import rejected
from app.datasets.formats import (
    BY_NAME,
    EXTENSIONS,
    TABLE_EXTENSIONS,
    ParsedUpload,
    UploadFormat,
    UploadRequest,
    phrase,
)
from app.errors import InvalidUpload


def upload_format(filename: str) -> UploadFormat:
    """The entry of FORMATS the extension names (in any case); 422 for anything else."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in BY_NAME:
        return BY_NAME[suffix]
    raise rejected(f"cannot tell the format of {filename!r}: the file name must end in {phrase(EXTENSIONS)}")


def parse_upload(path: Path, fmt: UploadFormat, request: UploadRequest, *, max_upload_bytes: int) -> ParsedUpload:
    """Read and check the file at `path`; InvalidUpload (422) naming what is wrong and where."""
    if path.stat().st_size == 0:
        raise rejected("the uploaded file is empty")
    if request.target and fmt.targets_in:
        raise _no_target_column(fmt, fmt.targets_in)
    return fmt.read(path, request, max_upload_bytes)


def _no_target_column(fmt: UploadFormat, targets_in: str) -> InvalidUpload:
    tables = phrase(TABLE_EXTENSIONS, "and")
    msg = f"form field 'target' applies to {tables} files; {fmt.extension} files hold their targets in {targets_in}"
    return InvalidUpload(msg, errors=[{"loc": ["target"], "msg": msg}])
