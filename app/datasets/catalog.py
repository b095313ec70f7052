"""DatasetCatalog: uploaded datasets on disk, `<root>/<id>/{data.npz, dataset.json}`; a file-backed dataset
(a registered source, a resumable upload) has only its record, `<root>/<id>/dataset.json`, naming its files.

A dataset is written into `<root>/.staging/<hex>` and renamed into place, so a reader (the API, a worker's child)
sees a whole dataset or none; a record's later changes (status, profile) are written beside it and renamed over
it; deleting renames it out of sight before removing it. Ids are uuid4 strings, checked against a uuid pattern
before they become paths, so that no request can reach outside the root.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from app.datasets.schemas import DatasetInfo
from app.datasets.types import Dataset
from app.durable import fsync_dir
from app.errors import DatasetNotFound, DatasetNotReady

ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARRAYS = "data.npz"
METADATA = "dataset.json"
STAGING = ".staging"


def _write_durably(path: Path, write: Any) -> None:
    with path.open("wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def new_info(data: Dataset, extra: dict[str, Any]) -> DatasetInfo:
    """The record of `data` stored under a new id; `extra` are the record's upload-specific fields."""
    return DatasetInfo(
        id=str(uuid.uuid4()),
        name=data.name,
        rows=data.rows,
        feature_shape=data.feature_shape,
        task=data.task,
        classes=data.classes,
        sha256=data.sha256,
        created_at=datetime.now(UTC),
        **extra,
    )


def new_record(**fields: Any) -> DatasetInfo:
    """A file-backed dataset's record under a new id: `fields` are its name, format, status, files, ...; what
    profiling finds (rows, shape, task, classes, hashes) stays null until it has."""
    empty = dict.fromkeys(("rows", "feature_shape", "task", "classes", "sha256"))
    return DatasetInfo(id=str(uuid.uuid4()), created_at=datetime.now(UTC), **{**empty, **fields})


def require_ready(info: DatasetInfo) -> DatasetInfo:
    """`info` if it can be used; DatasetNotReady (409) saying its status (and why it failed) else."""
    if info.status == "ready":
        return info
    detail = f"dataset {info.id} ({info.name!r}) is {info.status}, not ready"
    if info.status == "failed":
        detail += f": {info.error}"
    elif info.status in ("uploading", "profiling"):
        detail += f"; retry once GET /datasets/{info.id} says status 'ready'"
    raise DatasetNotReady(detail, errors=[{"loc": ["dataset", "id"], "msg": detail}])


def write_dataset(folder: Path, data: Dataset, info: DatasetInfo) -> None:
    """The arrays, then the record (a dataset is complete once its record exists)."""
    _write_durably(folder / ARRAYS, lambda f: np.savez(f, x=data.x, y=data.y))
    _write_durably(folder / METADATA, lambda f: f.write(info.model_dump_json(indent=2).encode()))


def read_arrays(file: BinaryIO, info: DatasetInfo) -> Dataset:
    with np.load(file, allow_pickle=False) as arrays:
        x, y = arrays["x"], arrays["y"]
    return Dataset(info.name, x, y, info.task, info.classes)


class DatasetCatalog:
    """Uploaded datasets in a directory on a local (or shared) filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh folder on the catalog's filesystem (so a rename can publish it), removed afterwards."""
        path = self.root / STAGING / uuid.uuid4().hex
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def publish(self, data: Dataset, **extra: Any) -> DatasetInfo:
        """Store `data` under a new id, atomically; `extra` are the record's upload-specific fields."""
        info = new_info(data, extra)
        with self.staging() as staged:
            write_dataset(staged, data, info)
            os.rename(staged, self.root / info.id)
        fsync_dir(self.root)
        return info

    def register(self, info: DatasetInfo) -> DatasetInfo:
        """Store the record of a file-backed dataset (no arrays), atomically."""
        with self.staging() as staged:
            _write_durably(staged / METADATA, lambda f: f.write(info.model_dump_json(indent=2).encode()))
            os.rename(staged, self._folder(info.id))
        fsync_dir(self.root)
        return info

    def update(self, info: DatasetInfo) -> DatasetInfo:
        """Replace a dataset's record (its status, its profile) atomically; DatasetNotFound once it is deleted."""
        folder = self._folder(info.id)
        staged = folder / f".{METADATA}.{uuid.uuid4().hex}"
        try:
            _write_durably(staged, lambda f: f.write(info.model_dump_json(indent=2).encode()))
        except FileNotFoundError as exc:
            raise DatasetNotFound(f"no dataset with id {info.id!r}") from exc
        os.replace(staged, folder / METADATA)
        fsync_dir(folder)
        return info

    def list_datasets(self) -> list[DatasetInfo]:
        """Every complete dataset, newest first."""
        if not self.root.is_dir():
            return []
        infos = [
            self._read_info(path)
            for path in self.root.iterdir()
            if ID_PATTERN.fullmatch(path.name) and (path / METADATA).is_file()
        ]
        return sorted(infos, key=lambda info: (info.created_at, info.id), reverse=True)

    def read(self, dataset_id: str) -> DatasetInfo:
        path = self._folder(dataset_id)
        if not (path / METADATA).is_file():
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
        return self._read_info(path)

    def load(self, dataset_id: str) -> Dataset:
        """The stored arrays as a Dataset (x float32; y int64 class indices or float32 targets)."""
        info = require_ready(self.read(dataset_id))
        with (self._folder(dataset_id) / ARRAYS).open("rb") as f:
            return read_arrays(f, info)

    def delete(self, dataset_id: str) -> None:
        path = self._folder(dataset_id)
        trash = self.root / STAGING / f"deleted-{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, trash)
        except FileNotFoundError as exc:
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}") from exc
        shutil.rmtree(trash, ignore_errors=True)

    def _folder(self, dataset_id: str) -> Path:
        if not ID_PATTERN.fullmatch(dataset_id):
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
        return self.root / dataset_id

    @staticmethod
    def _read_info(path: Path) -> DatasetInfo:
        return DatasetInfo.model_validate_json((path / METADATA).read_bytes())
