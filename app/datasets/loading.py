"""One entry point from a spec's `dataset` reference to a loaded Dataset, and the catalog at a location."""

from __future__ import annotations

from pathlib import Path

from app.datasets.builtin import load_builtin
from app.datasets.catalog import DatasetCatalog
from app.datasets.inline import load_inline
from app.datasets.refs import DatasetRef
from app.datasets.remote_catalog import ObjectDatasetCatalog
from app.datasets.types import Dataset
from app.storage import local_path

Catalog = DatasetCatalog | ObjectDatasetCatalog


def open_catalog(location: str | Path) -> Catalog:
    """The uploaded datasets at a local path (or file:// URL) or on remote storage through fsspec (s3://...)."""
    path = local_path(location)
    if path is not None:
        return DatasetCatalog(path)
    return ObjectDatasetCatalog(str(location))


def load_dataset(ref: DatasetRef, datasets_location: str | Path) -> Dataset:
    """The dataset a spec names; uploads live at `datasets_location` (DatasetNotFound if there is none)."""
    if ref.builtin is not None:
        return load_builtin(ref.builtin)
    if ref.inline is not None:
        return load_inline(ref.inline.x, ref.inline.y, ref.inline.task)
    assert ref.id is not None  # DatasetRef holds exactly one of the three
    return open_catalog(datasets_location).load(ref.id)
