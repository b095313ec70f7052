"""Datasets: upload (multipart, streamed to disk under a size limit) or register a source (JSON, profiled by a
worker), list, read, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.accepted import accepted
from app.api.deps import CatalogDep, SettingsDep, StoreDep, SupervisorDep
from app.api.profiling import begin_profiling, cancel_profiling, settle
from app.datasets.formats import EXTENSIONS, FORMATS, TABLE_EXTENSIONS, phrase
from app.datasets.receive import ReceivedUpload, receive_upload
from app.datasets.schemas import DatasetInfo
from app.datasets.service import SourceRequest, create_dataset, delete_dataset, register_source
from app.errors import TooLarge
from app.registry.names import NAME_PATTERN
from app.settings import Settings

router = APIRouter(prefix="/datasets", tags=["datasets"])

TARGET_HELP = f"The label column of a {phrase(TABLE_EXTENSIONS)}."
MAX_SOURCE_BODY = 64 * 1024  # a source's JSON body names files; it never holds data

# The body is read by hand (an upload streams to disk so that the size limit holds while it arrives; a JSON body
# registers a source), so OpenAPI learns both forms from here.
BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    **SourceRequest.model_json_schema(),
                    "description": "Or register Parquet or CSV files that stay where they are (202, profiled).",
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": phrase(EXTENSIONS)},
                        "name": {"type": "string", "pattern": NAME_PATTERN},
                        "target": {"type": "string", "description": TARGET_HELP},
                        "task": {"type": "string", "enum": ["classification", "regression"]},
                    },
                }
            },
        },
    }
}


def max_upload_bytes(settings: Settings) -> int:
    return int(settings.max_upload_mb * 2**20)


async def dataset_body(
    request: Request, catalog: CatalogDep, settings: SettingsDep
) -> AsyncIterator[ReceivedUpload | SourceRequest]:
    """A JSON body's source; else the request's file, streamed into a staging folder that is removed once the
    request is answered."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() == "application/json":
        yield _source_request(await _capped_body(request))
        return
    with catalog.staging() as folder:
        headers = request.headers
        yield await receive_upload(
            request.stream(),
            headers.get("content-type", ""),
            headers.get("content-length"),
            folder,
            max_upload_bytes(settings),
        )


async def _capped_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SOURCE_BODY:
            raise TooLarge(f"a JSON body registering a source is at most {MAX_SOURCE_BODY} bytes")
    return body


def _source_request(body: bytes) -> SourceRequest:
    """The body as a SourceRequest; a 422 (400 for JSON that does not parse) naming each field that is wrong."""
    try:
        return SourceRequest.model_validate_json(body)
    except ValidationError as exc:
        expected = list(SourceRequest.model_fields)
        raise RequestValidationError(
            [
                {**e, "msg": f"{e['msg']}; expected fields {expected}" if e["type"] == "extra_forbidden" else e["msg"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
        ) from exc


BodyDep = Annotated[ReceivedUpload | SourceRequest, Depends(dataset_body)]


@router.post(
    "",
    status_code=201,
    response_model=DatasetInfo,
    openapi_extra=BODIES,
    description=f"Upload a {phrase([f.title for f in FORMATS])} file as a dataset to train on.",
    responses={
        202: {"model": DatasetInfo, "description": "A source registered: status `profiling` until a worker read it"},
        400: {"description": "Malformed body"},
        413: {"description": "Upload too large"},
    },
)
def create_dataset_from_body(
    body: BodyDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    store: StoreDep,
    supervisor: SupervisorDep,
    response: Response,
) -> DatasetInfo:
    """Upload a file (checked whole before it is stored), or register a source (profiled in the background)."""
    if isinstance(body, SourceRequest):
        info = register_source(catalog, body, allowed=settings.dataset_source_prefixes)
        info = begin_profiling(catalog=catalog, store=store, info=info)
        response.status_code = 202
        accepted(response, supervisor, f"/datasets/{info.id}")
        return info
    info = create_dataset(catalog, body, max_upload_bytes(settings))
    response.headers["Location"] = f"/datasets/{info.id}"
    return info


@router.get("", response_model=list[DatasetInfo])
def read_datasets(catalog: CatalogDep, store: StoreDep) -> list[DatasetInfo]:
    """Datasets (uploaded and registered, in every status), newest first."""
    return settle(catalog=catalog, store=store, infos=catalog.list_datasets())


@router.get("/{dataset_id}", response_model=DatasetInfo)
def read_dataset(dataset_id: str, catalog: CatalogDep, store: StoreDep) -> DatasetInfo:
    """One dataset, with its status (and why profiling failed, if it did)."""
    return settle(catalog=catalog, store=store, infos=[catalog.read(dataset_id)])[0]


@router.delete("/{dataset_id}", status_code=204, responses={409: {"description": "A queued or running job uses it"}})
def remove_dataset(dataset_id: str, catalog: CatalogDep, store: StoreDep) -> Response:
    """Delete a dataset in any status (refused while a queued or running job uses it; its profiling is cancelled)."""
    catalog.read(dataset_id)
    cancel_profiling(store, dataset_id)
    delete_dataset(catalog, dataset_id, active_specs=store.active_specs)
    return Response(status_code=204)
