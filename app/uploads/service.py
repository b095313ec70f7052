"""Upload operations behind the tus routes: create one from its headers (everything checked before anything is
written), and the bytes a PATCH brings. Profiling the finished file is the caller's (it needs the job store)."""

from __future__ import annotations

from collections.abc import AsyncIterable

from app.errors import InvalidUpload, MalformedBody, TooLarge
from app.uploads.errors import OffsetMismatch
from app.uploads.headers import byte_count, parse_metadata
from app.uploads.metadata import read_metadata
from app.uploads.state import UploadState
from app.uploads.storage import Uploads


def begin_upload(
    uploads: Uploads,
    *,
    length: str | None,
    defer: str | None,
    metadata: str | None,
    max_bytes: int,
    body_bytes: int | None = None,
) -> UploadState:
    """A new upload and its dataset (status `uploading`): 400 for malformed headers, 413 past the limit (or a
    creation body, `body_bytes` declared, longer than Upload-Length), 422 for metadata that cannot make a dataset."""
    if length is None and defer is not None:
        raise MalformedBody("deferred lengths (Upload-Defer-Length) are not supported: send Upload-Length")
    size = byte_count(length, "Upload-Length")
    fields = parse_metadata(metadata)
    meta = read_metadata(fields)
    if size > max_bytes:
        limit = max_bytes / 2**30
        raise TooLarge(f"Upload-Length {size} bytes is larger than the limit of {limit:g} GiB (MAAS_MAX_UPLOAD_GB)")
    if body_bytes is not None and body_bytes > size:
        raise TooLarge(f"the creation body is {body_bytes} bytes, more than its Upload-Length of {size} bytes")
    if size == 0:
        msg = "Upload-Length is 0: an empty file holds no dataset"
        raise InvalidUpload(msg, errors=[{"loc": ["Upload-Length"], "msg": msg}])
    state, _info = uploads.create(meta=meta, fields=fields, length=size)
    return state


async def receive_bytes(
    uploads: Uploads,
    state: UploadState,
    *,
    offset: str | None,
    content_length: str | None,
    chunks: AsyncIterable[bytes],
) -> int:
    """Append a PATCH body at its Upload-Offset; the new offset. A PATCH at the end of a finished upload (a client
    retrying its last request) writes nothing."""
    start = byte_count(offset, "Upload-Offset")
    declared = None if content_length is None else byte_count(content_length, "Content-Length")
    if uploads.offset(state) == state.length:
        if start != state.length:
            raise OffsetMismatch(f"Upload-Offset is {start} but the upload is complete at {state.length} bytes")
        if declared:
            raise TooLarge(f"the upload is complete at its Upload-Length of {state.length} bytes")
        return start
    return await uploads.append(state, offset=start, chunks=chunks, declared=declared)
