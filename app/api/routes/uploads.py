"""Resumable dataset uploads on the tus 1.0 protocol (core, creation, creation-with-upload, termination,
expiration) at /uploads, so that stock tus clients (tuspy, Uppy, tus-js-client) can send files of many GB and
resume them after a dropped connection or a server restart. Bytes stream to the datasets location as they arrive;
the finished file is profiled; an unfinished one left alone for MAAS_UPLOAD_EXPIRY_HOURS is removed (410 Gone).

The tus headers and statuses are the protocol's, so the routes share one route class: it checks Tus-Resumable
before anything runs (412 with Tus-Version otherwise), answers errors as problem documents with the three
statuses the domain table has no row for (410, 412, 415), and puts Tus-Resumable on every answer.
"""

from __future__ import annotations

import asyncio
import time
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
from app.uploads.errors import UnsupportedMediaType, UnsupportedTusVersion, UploadExpired
from app.uploads.expiry import Expiry
from app.uploads.headers import (
    CHUNK_TYPE,
    TUS_VERSION,
    byte_count,
    capabilities,
    check_chunk_type,
    check_version,
    http_date,
)
from app.uploads.service import begin_upload, receive_bytes
from app.uploads.state import UploadState
from app.uploads.storage import Uploads

TUS_STATUS: dict[type[MaasError], int] = {UploadExpired: 410, UnsupportedTusVersion: 412, UnsupportedMediaType: 415}
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


def get_expiry(settings: SettingsDep) -> Expiry:
    return Expiry(settings.upload_expiry_hours)


ExpiryDep = Annotated[Expiry, Depends(get_expiry)]


async def upload_expires(expiry: Expiry, uploads: Uploads, state: UploadState) -> dict[str, str]:
    """Upload-Expires for an upload that will expire; none for a finished one, or with expiry off."""
    return _expires_header(await asyncio.to_thread(expiry.expires_at, uploads, state))


async def refuse_expired(expiry: Expiry, uploads: Uploads, state: UploadState) -> dict[str, str]:
    """An upload past its expiry is removed now and is a 410; any other's Upload-Expires."""
    return _expires_header(await asyncio.to_thread(expiry.check, uploads, state, now=time.time()))


def _expires_header(expires: float | None) -> dict[str, str]:
    return {} if expires is None else {"Upload-Expires": http_date(expires)}


def max_upload_bytes(settings: Settings) -> int:
    return int(settings.max_upload_gb * 2**30)


async def finish_upload(uploads: Uploads, store: JobStore, state: UploadState) -> None:
    """The whole file is in place: record it and begin profiling, once (a crash in between is finished later)."""
    info = await uploads.finish(state)
    if info.status == "uploading":
        await asyncio.to_thread(begin_profiling, catalog=uploads.catalog, store=store, info=info)
    await asyncio.to_thread(uploads.mark_complete, state)


@router.options("", status_code=204, response_class=Response)
def describe_uploads(settings: SettingsDep, expiry: ExpiryDep) -> Response:
    """The tus version, extensions and largest upload (bytes) this server accepts."""
    return Response(status_code=204, headers=capabilities(max_upload_bytes(settings), expiring=expiry.on))


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
    expiry: ExpiryDep,
    upload_length: Annotated[str | None, Header(alias="Upload-Length")] = None,
    upload_metadata: Annotated[
        str | None, Header(alias="Upload-Metadata", description="filename, name, target, task")
    ] = None,
    upload_defer_length: Annotated[str | None, Header(alias="Upload-Defer-Length")] = None,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    content_length: Annotated[str | None, Header(alias="Content-Length")] = None,
) -> Response:
    """Start a resumable upload; its dataset (same id) is listed in status 'uploading' until the last byte. A body
    (creation-with-upload, as offset+octet-stream) is the upload's first bytes: Upload-Offset says how many.
    Upload-Expires says when the upload is removed unless it receives more (MAAS_UPLOAD_EXPIRY_HOURS)."""
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
    headers = {"Location": f"/uploads/{state.id}", "Upload-Offset": str(offset)}
    return Response(status_code=201, headers=headers | await upload_expires(expiry, uploads, state))


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


@router.head(
    "/{upload_id}",
    status_code=200,
    response_class=Response,
    responses={410: {"description": "The upload expired unfinished and was removed"}},
)
async def read_upload(upload: UploadDep, uploads: UploadsDep, store: StoreDep, expiry: ExpiryDep) -> Response:
    """How many bytes the upload holds: where to resume, and until when (Upload-Expires)."""
    headers = await refuse_expired(expiry, uploads, upload)
    offset = uploads.offset(upload)
    if offset == upload.length and not upload.complete:
        await finish_upload(uploads, store, upload)
    headers |= {"Upload-Offset": str(offset), "Upload-Length": str(upload.length), "Cache-Control": "no-store"}
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
        410: {"description": "The upload expired unfinished and was removed"},
        415: {"description": "Not offset+octet-stream"},
    },
)
async def append_upload(
    request: Request,
    upload: UploadDep,
    uploads: UploadsDep,
    store: StoreDep,
    expiry: ExpiryDep,
    upload_offset: Annotated[str | None, Header(alias="Upload-Offset")] = None,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    content_length: Annotated[str | None, Header(alias="Content-Length")] = None,
) -> Response:
    """Append the body at Upload-Offset; after the last byte the dataset is profiled. Until then Upload-Expires
    says when the upload is removed unless it receives more."""
    check_chunk_type(content_type)
    await refuse_expired(expiry, uploads, upload)
    try:
        offset = await receive_bytes(
            uploads, upload, offset=upload_offset, content_length=content_length, chunks=request.stream()
        )
    except ClientDisconnect:  # nobody is left to answer; what arrived is kept, and the next HEAD says so
        return Response(status_code=204)
    if offset == upload.length and not upload.complete:
        await finish_upload(uploads, store, upload)
    headers = {"Upload-Offset": str(offset)}
    if offset < upload.length:
        headers |= await upload_expires(expiry, uploads, upload)
    return Response(status_code=204, headers=headers)


@router.delete("/{upload_id}", status_code=204, response_class=Response)
def terminate_upload(upload: UploadDep, uploads: UploadsDep, store: StoreDep) -> Response:
    """End an upload: its bytes and its dataset are removed (a finished one's too, unless a job uses it)."""
    cancel_profiling(store, upload.id)  # a finished upload's own profile job is no user to wait for
    uploads.terminate(upload, active_specs=store.active_specs)
    return Response(status_code=204)
