"""One entry point from a spec's `dataset` reference to a loaded Dataset, and the catalog at a location.

A file-backed dataset (a registered source or a resumable upload: its record names `files`) is read whole into
an in-memory `Dataset` when its files total at most `MAAS_IN_MEMORY_MB`, so everything written for uploads works
unchanged; a bigger one is a `StreamedDataset` that training and scoring read in chunks. `open_dataset` never
reads a file-backed dataset's rows: what the API checks before queueing needs only its record.
"""

from __future__ import annotations

from pathlib import Path

from app.datasets.builtin import load_builtin
from app.datasets.catalog import DatasetCatalog, require_ready
from app.datasets.inline import load_inline
from app.datasets.refs import DatasetRef
from app.datasets.remote_catalog import ObjectDatasetCatalog
from app.datasets.streamed import StreamedDataset
from app.datasets.types import Dataset
from app.storage import local_path

Catalog = DatasetCatalog | ObjectDatasetCatalog
AnyDataset = Dataset | StreamedDataset


def open_catalog(location: str | Path) -> Catalog:
    """The uploaded datasets at a local path (or file:// URL) or on remote storage through fsspec (s3://...)."""
    path = local_path(location)
    if path is not None:
        return DatasetCatalog(path)
    return ObjectDatasetCatalog(str(location))


def open_dataset(ref: DatasetRef, datasets_location: str | Path) -> AnyDataset:
    """The dataset a spec names, a file-backed one as its record describes it (its rows unread);
    DatasetNotFound if there is none, DatasetNotReady (409) for one still uploading or profiling, or failed."""
    if ref.builtin is not None:
        return load_builtin(ref.builtin)
    if ref.inline is not None:
        return load_inline(ref.inline.x, ref.inline.y, ref.inline.task)
    assert ref.id is not None  # DatasetRef holds exactly one of the three
    catalog = open_catalog(datasets_location)
    info = catalog.read(ref.id)
    if info.files is None:
        return catalog.load(ref.id)
    return StreamedDataset(require_ready(info))


def load_dataset(ref: DatasetRef, datasets_location: str | Path, *, in_memory_mb: float | None = None) -> AnyDataset:
    """The dataset a spec names, for a job to use: a file-backed one of at most `in_memory_mb` MiB (default
    MAAS_IN_MEMORY_MB) read whole, a bigger one streamed."""
    data = open_dataset(ref, datasets_location)
    if isinstance(data, StreamedDataset) and not streams(data, in_memory_mb):
        return data.load()
    return data


def streams(data: AnyDataset, in_memory_mb: float | None = None) -> bool:
    """Whether a job reads `data` in chunks rather than whole: a file-backed dataset over the limit."""
    if not isinstance(data, StreamedDataset):
        return False
    if in_memory_mb is None:
        from app.settings import get_settings

        in_memory_mb = get_settings().in_memory_mb
    return data.bytes > in_memory_mb * 2**20
