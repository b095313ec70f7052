"""Resumable dataset uploads on the tus 1.0 protocol (core, creation, creation-with-upload, termination) at
/uploads, so that stock tus clients (tuspy, Uppy, tus-js-client) can send files of many GB and resume them after
a dropped connection or a server restart. Bytes stream to the datasets location as they arrive; the finished
file is profiled.

The tus headers and statuses are the protocol's, so the routes share one route class: it checks Tus-Resumable
before anything runs (412 with Tus-Version otherwise), answers errors as problem documents with the two
statuses the domain table has no row for (412, 415), and puts Tus-Resumable on every answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from app.api.deps import SettingsDep, StoreDep
from app.api.problems import status_for
from app.api.profiling import begin_profiling, cancel_profiling
from app.api.protocols.envelopes import problem
from app.errors import MaasError, TooLarge
from app.jobs.store import JobStore
from app.settings import Settings
from app.uploads.errors import UnsupportedMediaType, UnsupportedTusVersion
from app.uploads.headers import (
    CHUNK_TYPE,
    TUS_VERSION,
    byte_count,
    capabilities,
    check_chunk_type,
    check_version,
)
from app.uploads.service import begin_upload, receive_bytes
from app.uploads.state import UploadState
from app.uploads.storage import Uploads

TUS_STATUS: dict[type[MaasError], int] = {UnsupportedTusVersion: 412, UnsupportedMediaType: 415}
CHUNK_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {CHUNK_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}


class TusRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                if request.method != "OPTIONS":  # the spec: clients need not send it there, servers ignore it
                    check_version(request.headers.get("tus-resumable"))
                response = await handler(request)
            except MaasError as exc:
                status = TUS_STATUS.get(type(exc)) or status_for(exc)
                response = problem(status, exc.title, exc.detail, exc.code, errors=exc.errors)
                if status == 412:
                    response.headers["Tus-Version"] = TUS_VERSION
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


router = APIRouter(prefix="/uploads", tags=["uploads"], route_class=TusRoute)


def get_uploads(request: Request) -> Uploads:
    return request.app.state.uploads  # type: ignore[no-any-return]


UploadsDep = Annotated[Uploads, Depends(get_uploads)]


def get_upload(upload_id: str, uploads: UploadsDep) -> UploadState:
    return uploads.read(upload_id)


UploadDep = Annotated[UploadState, Depends(get_upload)]


def max_upload_bytes(settings: Settings) -> int:
    return int(settings.max_upload_gb * 2**30)


async def finish_upload(uploads: Uploads, store: JobStore, state: UploadState) -> None:
    """The whole file is in place: record it and begin profiling, once (a crash in between is finished later)."""
    info = await uploads.finish(state)
    if info.status == "uploading":
        await asyncio.to_thread(begin_profiling, catalog=uploads.catalog, store=store, info=info)
    await asyncio.to_thread(uploads.mark_complete, state)


@router.options("", status_code=204, response_class=Response)
def describe_uploads(settings: SettingsDep) -> Response:
    """The tus version, extensions and largest upload (bytes) this server accepts."""
    return Response(status_code=204, headers=capabilities(max_upload_bytes(settings)))


@router.post(
    "",
    status_code=201,
    response_class=Response,
    openapi_extra={"requestBody": {**CHUNK_BODY["requestBody"], "required": False}},
    responses={
        413: {"description": "Upload-Length past MAAS_MAX_UPLOAD_GB, or a body past Upload-Length"},
        415: {"description": "A body that is not offset+octet-stream"},
        422: {"description": "Bad metadata"},
    },
)
async def create_upload(
    request: Request,
    uploads: UploadsDep,
    settings: SettingsDep,
    store: StoreDep,
    upload_length: Annotated[str | None, Header(alias="Upload-Length")] = None,
    upload_metadata: Annotated[
        str | None, Header(alias="Upload-Metadata", description="filename, name, target, task")
    ] = None,
    upload_defer_length: Annotated[str | None, Header(alias="Upload-Defer-Length")] = None,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    content_length: Annotated[str | None, Header(alias="Content-Length")] = None,
) -> Response:
    """Start a resumable upload; its dataset (same id) is listed in status 'uploading' until the last byte. A body
    (creation-with-upload, as offset+octet-stream) is the upload's first bytes: Upload-Offset says how many."""
    declared = None if content_length is None else byte_count(content_length, "Content-Length")
    with_body = bool(declared) or "transfer-encoding" in request.headers
    if with_body:
        check_chunk_type(content_type)  # before anything exists
    state = await asyncio.to_thread(
        begin_upload,
        uploads,
        length=upload_length,
        defer=upload_defer_length,
        metadata=upload_metadata,
        max_bytes=max_upload_bytes(settings),
        body_bytes=declared if with_body else None,
    )
    offset = 0
    if with_body:
        offset = await first_bytes(request, uploads, store, state, content_length=content_length)
    return Response(status_code=201, headers={"Location": f"/uploads/{state.id}", "Upload-Offset": str(offset)})


async def first_bytes(
    request: Request, uploads: Uploads, store: JobStore, state: UploadState, *, content_length: str | None
) -> int:
    """A creation body appended as a PATCH at offset 0 would be; the new offset. One that runs past Upload-Length
    removes the upload it was to start (its client never learns the Location), then is the 413."""
    try:
        offset = await receive_bytes(uploads, state, offset="0", content_length=content_length, chunks=request.stream())
    except ClientDisconnect:  # nobody is left to answer; the unreachable upload expires
        return 0
    except TooLarge:
        await asyncio.to_thread(uploads.terminate, state, active_specs=store.active_specs)
        raise
    if offset == state.length:
        await finish_upload(uploads, store, state)
    return offset


@router.head("/{upload_id}", status_code=200, response_class=Response)
async def read_upload(upload: UploadDep, uploads: UploadsDep, store: StoreDep) -> Response:
    """How many bytes the upload holds: where to resume."""
    offset = uploads.offset(upload)
    if offset == upload.length and not upload.complete:
        await finish_upload(uploads, store, upload)
    headers = {"Upload-Offset": str(offset), "Upload-Length": str(upload.length), "Cache-Control": "no-store"}
    if upload.metadata:
        headers["Upload-Metadata"] = upload.metadata_header()
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    openapi_extra=CHUNK_BODY,
    responses={
        409: {"description": "Upload-Offset is not the upload's offset"},
        415: {"description": "Not offset+octet-stream"},
    },
)
async def append_upload(
    request: Request,
    upload: UploadDep,
    uploads: UploadsDep,
    store: StoreDep,
    upload_offset: Annotated[str | None, Header(alias="Upload-Offset")] = None,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    content_length: Annotated[str | None, Header(alias="Content-Length")] = None,
) -> Response:
    """Append the body at Upload-Offset; after the last byte the dataset is profiled."""
    check_chunk_type(content_type)
    try:
        offset = await receive_bytes(
            uploads, upload, offset=upload_offset, content_length=content_length, chunks=request.stream()
        )
    except ClientDisconnect:  # nobody is left to answer; what arrived is kept, and the next HEAD says so
        return Response(status_code=204)
    if offset == upload.length and not upload.complete:
        await finish_upload(uploads, store, upload)
    return Response(status_code=204, headers={"Upload-Offset": str(offset)})


@router.delete("/{upload_id}", status_code=204, response_class=Response)
def terminate_upload(upload: UploadDep, uploads: UploadsDep, store: StoreDep) -> Response:
    """End an upload: its bytes and its dataset are removed (a finished one's too, unless a job uses it)."""
    cancel_profiling(store, upload.id)  # a finished upload's own profile job is no user to wait for
    uploads.terminate(upload, active_specs=store.active_specs)
    return Response(status_code=204)
