"""Dataset operations behind the HTTP routes: register an upload, and refuse to delete one a job still needs.

The jobs are the caller's to name (the route asks the job store), so that datasets never import `app.jobs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, get_args

from app.datasets.formats import UploadRequest
from app.datasets.loading import Catalog
from app.datasets.receive import FILE_FIELD, ReceivedUpload
from app.datasets.schemas import DatasetInfo
from app.datasets.types import Task
from app.datasets.uploads import parse_upload, upload_format
from app.errors import DatasetInUse, InvalidUpload
from app.registry.names import check_name

UPLOAD_FIELDS = ("name", "target", "task")
TASKS: tuple[Task, ...] = get_args(Task)


def create_dataset(catalog: Catalog, upload: ReceivedUpload, max_upload_bytes: int) -> DatasetInfo:
    """Parse, check and store an uploaded file; InvalidUpload (nothing stored) when it cannot be used."""
    request = _form_fields(upload.fields)
    fmt = upload_format(upload.filename)
    parsed = parse_upload(upload.path, fmt, request, max_upload_bytes=max_upload_bytes)
    return catalog.publish(
        parsed.dataset, format=fmt.name, target=request.target, features=parsed.features, file_sha256=upload.sha256
    )


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
