"""The dataset catalog on disk: atomic publish, newest-first listing, loading for training, safe ids, delete."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from app.datasets import DatasetRef
from app.datasets.catalog import STAGING, DatasetCatalog
from app.datasets.formats import FORMATS
from app.datasets.loading import load_dataset
from app.datasets.schemas import DatasetInfo
from app.datasets.types import Dataset
from app.errors import DatasetNotFound


def labelled(name: str = "pets") -> Dataset:
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    return Dataset(name, x, np.array([0, 1, 1, 0], dtype=np.int64), "classification", ["cat", "dog"])


def publish(catalog: DatasetCatalog, data: Dataset) -> str:
    return catalog.publish(data, format="csv", target="label", features=["a", "b", "c"], file_sha256="0" * 64).id


@pytest.fixture
def catalog(data_dir: Path) -> DatasetCatalog:
    return DatasetCatalog(data_dir / "datasets")


def test_published_dataset_loads_back_as_it_was(catalog: DatasetCatalog) -> None:
    data = labelled()
    info = catalog.publish(data, format="csv", target="label", features=["a", "b", "c"], file_sha256="0" * 64)
    assert (info.rows, info.feature_shape, info.classes, info.sha256) == (4, [3], ["cat", "dog"], data.sha256)
    loaded = catalog.load(info.id)
    assert loaded.x.dtype == np.float32 and loaded.y.dtype == np.int64
    assert loaded.sha256 == data.sha256 and (loaded.name, loaded.task) == ("pets", "classification")
    assert catalog.read(info.id) == info


def test_regression_targets_load_as_float32(catalog: DatasetCatalog) -> None:
    data = Dataset("prices", np.ones((3, 2), np.float32), np.array([1.5, 2, 3], np.float32), "regression", None)
    loaded = catalog.load(publish(catalog, data))
    assert loaded.task == "regression" and loaded.classes is None and loaded.y.dtype == np.float32


def test_load_dataset_reads_an_uploaded_id(catalog: DatasetCatalog) -> None:
    dataset_id = publish(catalog, labelled())
    assert load_dataset(DatasetRef(id=dataset_id), catalog.root).classes == ["cat", "dog"]
    with pytest.raises(DatasetNotFound):
        load_dataset(DatasetRef(id="7e0e4a52-4b51-4f1e-9a3c-1d2a0b9c8e7f"), catalog.root)


def test_list_is_newest_first_and_skips_staging_and_strays(catalog: DatasetCatalog) -> None:
    first, second = publish(catalog, labelled("one")), publish(catalog, labelled("two"))
    (catalog.root / "lost+found").mkdir()
    (catalog.root / "7e0e4a52-4b51-4f1e-9a3c-1d2a0b9c8e7f").mkdir()  # no metadata: not a complete dataset
    with catalog.staging():
        assert [info.id for info in catalog.list_datasets()] == [second, first]
    assert list((catalog.root / STAGING).iterdir()) == []


def test_an_empty_catalog_lists_nothing(tmp_path: Path) -> None:
    assert DatasetCatalog(tmp_path / "nowhere").list_datasets() == []


@pytest.mark.parametrize("bad_id", ["../registry", "..", ".staging", "/etc/passwd", "not-a-uuid", ""])
def test_ids_that_are_no_uuid_never_become_paths(catalog: DatasetCatalog, bad_id: str) -> None:
    for call in (catalog.read, catalog.load, catalog.delete):
        with pytest.raises(DatasetNotFound):
            call(bad_id)


def test_delete_removes_the_folder_and_then_it_is_not_found(catalog: DatasetCatalog) -> None:
    dataset_id = publish(catalog, labelled())
    catalog.delete(dataset_id)
    assert not (catalog.root / dataset_id).exists()
    assert list((catalog.root / STAGING).iterdir()) == []
    for call in (catalog.read, catalog.delete):
        with pytest.raises(DatasetNotFound):
            call(dataset_id)


def test_a_record_holds_any_registered_format_and_no_other(catalog: DatasetCatalog) -> None:
    for fmt in FORMATS:
        info = catalog.publish(labelled(), format=fmt.name, target=None, features=None, file_sha256="0" * 64)
        assert catalog.read(info.id).format == fmt.name
    assert DatasetInfo.model_json_schema()["properties"]["format"]["enum"] == [fmt.name for fmt in FORMATS]
    with pytest.raises(ValidationError):
        catalog.publish(labelled(), format="xlsx", target=None, features=None, file_sha256="0" * 64)
