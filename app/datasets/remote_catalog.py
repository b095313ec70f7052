"""ObjectDatasetCatalog: uploaded datasets on shared storage through fsspec (`s3://bucket/prefix`), laid out as
the local catalog is (`<root>/<id>/{data.npz, dataset.json}`; a file-backed dataset has only its record). The
record is written after the arrays and removed before them, so a dataset is listed only while it is whole; a
record's later changes overwrite its one object, which S3 replaces atomically."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.datasets.catalog import ARRAYS, ID_PATTERN, METADATA, new_info, read_arrays, require_ready, write_dataset
from app.datasets.schemas import DatasetInfo
from app.datasets.types import Dataset
from app.errors import DatasetNotFound
from app.storage import open_filesystem, upload_folder


class ObjectDatasetCatalog:
    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = open_filesystem(url)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A local folder for an upload to stream into before it is converted and published."""
        with tempfile.TemporaryDirectory(prefix="maas-upload-") as folder:
            yield Path(folder)

    def publish(self, data: Dataset, **extra: Any) -> DatasetInfo:
        info = new_info(data, extra)
        with tempfile.TemporaryDirectory(prefix="maas-dataset-") as folder:
            write_dataset(Path(folder), data, info)
            upload_folder(self.fs, Path(folder), f"{self.root}/{info.id}", last=METADATA)
        return info

    def register(self, info: DatasetInfo) -> DatasetInfo:
        """Store the record of a file-backed dataset (no arrays): one object, whole or absent."""
        self.fs.pipe_file(f"{self._folder(info.id)}/{METADATA}", info.model_dump_json(indent=2).encode())
        return info

    def update(self, info: DatasetInfo) -> DatasetInfo:
        """Overwrite a dataset's record; DatasetNotFound once it is deleted (never brings a deleted one back,
        short of a delete landing between the check and the write)."""
        path = f"{self._folder(info.id)}/{METADATA}"
        if not self.fs.exists(path):
            raise DatasetNotFound(f"no dataset with id {info.id!r}")
        self.fs.pipe_file(path, info.model_dump_json(indent=2).encode())
        return info

    def list_datasets(self) -> list[DatasetInfo]:
        """Every complete dataset, newest first."""
        records = self.fs.glob(f"{self.root}/*/{METADATA}")
        infos = [self._read_info(path) for path in records if ID_PATTERN.fullmatch(path.rsplit("/", 2)[-2])]
        return sorted(infos, key=lambda info: (info.created_at, info.id), reverse=True)

    def read(self, dataset_id: str) -> DatasetInfo:
        try:
            return self._read_info(f"{self._folder(dataset_id)}/{METADATA}")
        except FileNotFoundError as exc:
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}") from exc

    def load(self, dataset_id: str) -> Dataset:
        info = require_ready(self.read(dataset_id))
        with self.fs.open(f"{self._folder(dataset_id)}/{ARRAYS}", "rb") as f:
            return read_arrays(f, info)

    def delete(self, dataset_id: str) -> None:
        folder = self._folder(dataset_id)
        try:
            self.fs.rm_file(f"{folder}/{METADATA}")  # unlisted from here on
        except FileNotFoundError as exc:
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}") from exc
        try:
            self.fs.rm(folder, recursive=True)
        except FileNotFoundError:  # a file-backed dataset had only its record
            pass

    def _folder(self, dataset_id: str) -> str:
        if not ID_PATTERN.fullmatch(dataset_id):
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
        return f"{self.root}/{dataset_id}"

    def _read_info(self, path: str) -> DatasetInfo:
        return DatasetInfo.model_validate_json(self.fs.cat_file(path))
