"""Uploaded datasets: upload (multipart, streamed to disk under a size limit), list, read, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from app.api.deps import CatalogDep, SettingsDep, StoreDep
from app.datasets.formats import EXTENSIONS, FORMATS, TABLE_EXTENSIONS, phrase
from app.datasets.receive import ReceivedUpload, receive_upload
from app.datasets.schemas import DatasetInfo
from app.datasets.service import create_dataset, delete_dataset
from app.registry.names import NAME_PATTERN
from app.settings import Settings

router = APIRouter(prefix="/datasets", tags=["datasets"])

TARGET_HELP = f"The label column of a {phrase(TABLE_EXTENSIONS)}."

# The body is streamed by hand (so the size limit holds while it arrives), so OpenAPI learns its form from here.
UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
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
            }
        },
    }
}


def max_upload_bytes(settings: Settings) -> int:
    return int(settings.max_upload_mb * 2**20)


async def received_upload(
    request: Request, catalog: CatalogDep, settings: SettingsDep
) -> AsyncIterator[ReceivedUpload]:
    """The request's file, streamed into a staging folder that is removed once the request is answered."""
    with catalog.staging() as folder:
        headers = request.headers
        yield await receive_upload(
            request.stream(),
            headers.get("content-type", ""),
            headers.get("content-length"),
            folder,
            max_upload_bytes(settings),
        )


UploadDep = Annotated[ReceivedUpload, Depends(received_upload)]


@router.post(
    "",
    status_code=201,
    response_model=DatasetInfo,
    openapi_extra=UPLOAD_FORM,
    description=f"Upload a {phrase([f.title for f in FORMATS])} file as a dataset to train on.",
    responses={400: {"description": "Malformed multipart body"}, 413: {"description": "Upload too large"}},
)
def upload_dataset(upload: UploadDep, catalog: CatalogDep, settings: SettingsDep, response: Response) -> DatasetInfo:
    """The file is checked whole before anything is stored: a dataset that exists can be trained on."""
    info = create_dataset(catalog, upload, max_upload_bytes(settings))
    response.headers["Location"] = f"/datasets/{info.id}"
    return info


@router.get("", response_model=list[DatasetInfo])
def read_datasets(catalog: CatalogDep) -> list[DatasetInfo]:
    """Uploaded datasets, newest first."""
    return catalog.list_datasets()


@router.get("/{dataset_id}", response_model=DatasetInfo)
def read_dataset(dataset_id: str, catalog: CatalogDep) -> DatasetInfo:
    """One uploaded dataset."""
    return catalog.read(dataset_id)


@router.delete("/{dataset_id}", status_code=204, responses={409: {"description": "A queued or running job uses it"}})
def remove_dataset(dataset_id: str, catalog: CatalogDep, store: StoreDep) -> Response:
    """Delete an uploaded dataset (refused while a queued or running job uses it)."""
    delete_dataset(catalog, dataset_id, active_specs=store.active_specs)
    return Response(status_code=204)
