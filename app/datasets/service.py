"""Dataset operations behind the HTTP routes: store an upload, register a source, refuse to delete a dataset a
job still needs, and refuse to queue work on one that is not ready.

The jobs are the caller's to name (the route asks the job store), so that datasets never import `app.jobs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from app.datasets.catalog import new_record, require_ready
from app.datasets.formats import TABLES, UploadRequest
from app.datasets.loading import Catalog, open_catalog
from app.datasets.receive import FILE_FIELD, ReceivedUpload
from app.datasets.refs import DatasetRef
from app.datasets.schemas import DatasetInfo
from app.datasets.sources import list_source
from app.datasets.types import Task
from app.datasets.uploads import parse_upload, upload_format
from app.errors import DatasetInUse, InvalidUpload
from app.registry.names import NAME_PATTERN, check_name

UPLOAD_FIELDS = ("name", "target", "task")
TASKS: tuple[Task, ...] = get_args(Task)
SourceFormat = Literal[tuple(fmt.name for fmt in TABLES)]  # type: ignore[valid-type]


class SourceRequest(BaseModel):
    """`POST /datasets` with a JSON body: files that stay where they are, read by a profile job."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="The dataset's name.")
    source: str = Field(
        min_length=1,
        max_length=2048,
        description="A file, a folder or prefix ending in '/', or a glob, under one of MAAS_DATASET_SOURCES.",
        examples=["s3://bucket/data/train/", "file:///srv/data/train.parquet"],
    )
    format: SourceFormat = Field(description="How the files are read; a prefix or glob takes files of its extension.")
    target: str = Field(min_length=1, description="The label column; every other column is a feature.")
    task: Task | None = Field(None, description="Inferred from the target's values when not given.")


def create_dataset(catalog: Catalog, upload: ReceivedUpload, max_upload_bytes: int) -> DatasetInfo:
    """Parse, check and store an uploaded file; InvalidUpload (nothing stored) when it cannot be used."""
    request = _form_fields(upload.fields)
    fmt = upload_format(upload.filename)
    parsed = parse_upload(upload.path, fmt, request, max_upload_bytes=max_upload_bytes)
    return catalog.publish(
        parsed.dataset, format=fmt.name, target=request.target, features=parsed.features, file_sha256=upload.sha256
    )


def register_source(catalog: Catalog, request: SourceRequest, *, allowed: tuple[str, ...]) -> DatasetInfo:
    """Store the record of a source's files, in status `profiling`: InvalidSource (nothing stored) when the
    source is outside `allowed` or names no file. Lists the files, never reads them (the profile job does)."""
    listed = list_source(request.source, extension=f".{request.format}", allowed=allowed)
    record = new_record(
        name=request.name,
        format=request.format,
        status="profiling",
        target=request.target,
        task=request.task,
        source=listed.source,
        files=listed.files,
        bytes=listed.bytes,
    )
    return catalog.register(record)


def check_ready(*refs: DatasetRef | None, datasets_location: str | Path) -> None:
    """DatasetNotReady (409) when a dataset named by id is still uploading or profiling, or failed; a missing
    one is DatasetNotFound. Built-in and inline data are always ready."""
    ids = [ref.id for ref in refs if ref is not None and ref.id is not None]
    if ids:
        catalog = open_catalog(datasets_location)
        for dataset_id in ids:
            require_ready(catalog.read(dataset_id))


def delete_dataset(catalog: Catalog, dataset_id: str, *, active_specs: Callable[[], Iterable[Any]]) -> None:
    """Delete a dataset unless a queued or running job refers to it (its worker would fail to load it).

    `active_specs` gives the specs of the queued and running jobs; it is called only once the dataset exists.
    """
    catalog.read(dataset_id)
    users = sum(1 for spec in active_specs() if _refers_to(spec, dataset_id))
    if users:
        raise DatasetInUse(
            f"dataset {dataset_id} is used by {users} queued or running job(s); cancel them or wait until they finish"
        )
    catalog.delete(dataset_id)


def _refers_to(spec: Any, dataset_id: str) -> bool:
    """Whether a dataset reference `{"id": ...}` anywhere in the spec names `dataset_id`.

    Any depth, not only `spec["dataset"]`: a spec may name a second dataset (e.g. for validation), and ids are
    uuid4s, so an equal `id` elsewhere is no false alarm.
    """
    if isinstance(spec, dict):
        if spec.get("id") == dataset_id:
            return True
        return any(_refers_to(value, dataset_id) for value in spec.values())
    if isinstance(spec, list):
        return any(_refers_to(item, dataset_id) for item in spec)
    return False


def _field_error(field: str, msg: str) -> InvalidUpload:
    return InvalidUpload(msg, errors=[{"loc": [field], "msg": msg}])


def _form_fields(fields: dict[str, str]) -> UploadRequest:
    """The form's name, target and task; unknown fields are errors, so that a typo never goes unnoticed."""
    unknown = sorted(set(fields) - set(UPLOAD_FIELDS))
    if unknown:
        expected = [FILE_FIELD, *UPLOAD_FIELDS]
        raise _field_error(unknown[0], f"unknown form field(s) {unknown}; expected {expected}")
    name = fields.get("name")
    if not name:
        raise _field_error("name", "form field 'name' (the dataset's name) is required")
    check_name(name, "dataset name")
    task = fields.get("task") or None
    if task is not None and task not in TASKS:
        raise _field_error("task", f"form field 'task' must be one of {list(TASKS)}; got {task!r}")
    return UploadRequest(name, fields.get("target") or None, task)  # type: ignore[arg-type]
