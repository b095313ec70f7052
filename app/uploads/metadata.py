"""What an upload's Upload-Metadata says about its dataset, checked before anything is created: the name, the
file's format (from `filename`: a file-backed dataset is Parquet or CSV, read where it lies), the label column and
the task. Keys maas does not read are ignored, as stock clients add their own (Uppy sends `filetype`, `type`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from app.datasets.formats import BY_NAME, UploadFormat, phrase
from app.datasets.types import Task
from app.errors import InvalidName, InvalidUpload
from app.registry.names import check_name

STREAMED = ("parquet", "csv")  # the formats app/datasets/files.py reads in bounded memory
TASKS: tuple[Task, ...] = get_args(Task)
KEYS = ("filename", "name", "target", "task")


@dataclass(frozen=True)
class UploadMetadata:
    filename: str
    name: str
    format: UploadFormat
    target: str
    task: Task | None


def _invalid(key: str, msg: str) -> InvalidUpload:
    return InvalidUpload(msg, errors=[{"loc": ["Upload-Metadata", key], "msg": msg}])


def _required(fields: dict[str, str], key: str, what: str) -> str:
    value = fields.get(key, "").strip()
    if not value:
        raise _invalid(key, f"Upload-Metadata key {key!r} ({what}) is required; send the keys {list(KEYS)}")
    return value


def read_metadata(fields: dict[str, str]) -> UploadMetadata:
    """The upload's dataset as its metadata describes it; InvalidUpload (422) naming the first key that is wrong."""
    filename = _required(fields, "filename", "the file's name, whose extension gives its format")
    extensions = phrase([f".{name}" for name in STREAMED])
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in STREAMED:
        msg = f"cannot upload {filename[:100]!r} resumably: the file name must end in {extensions}"
        raise _invalid("filename", msg)
    name = _required(fields, "name", "the dataset's name")
    try:
        check_name(name, "dataset name")
    except InvalidName as exc:
        raise _invalid("name", exc.detail) from exc
    target = _required(fields, "target", "the label column of the table")
    task = fields.get("task", "").strip() or None
    if task is not None and task not in TASKS:
        raise _invalid("task", f"Upload-Metadata key 'task' must be one of {list(TASKS)}; got {task[:40]!r}")
    return UploadMetadata(filename, name, BY_NAME[suffix], target, task)  # type: ignore[arg-type]
