"""The registry and the dataset catalog on S3 (a local moto server): what several replicas without a shared
filesystem rely on — versions numbered once, half-uploaded versions invisible, aliases, deletes, caching."""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
import s3fs

from app.datasets.loading import open_catalog
from app.datasets.types import Dataset
from app.errors import AliasNotFound, Conflict, DatasetNotFound, ModelNotFound, VersionNotFound
from app.registry import open_registry
from app.registry.remote import ObjectRegistry
from app.settings import Settings
from tests.unit.test_registry import ARTIFACT_BYTES, model_metadata


def publish(registry: ObjectRegistry, name: str = "iris", job_id: str | None = None) -> int:
    staged = registry.new_staging_dir()
    (staged / "model.keras").write_bytes(ARTIFACT_BYTES)
    (staged / "model.onnx").write_bytes(b"onnx")
    return registry.publish(name, staged, model_metadata(job_id)).version


@pytest.fixture
def registry(s3_bucket: str, tmp_path: Path) -> ObjectRegistry:
    opened = open_registry(f"{s3_bucket}/registry", tmp_path / "cache")
    assert isinstance(opened, ObjectRegistry)
    return opened


def test_settings_open_the_registry_on_s3_and_keep_local_paths_local(s3_bucket: str, tmp_path: Path) -> None:
    remote = Settings(data_dir=tmp_path, registry_dir=f"{s3_bucket}/models", datasets_location=f"{s3_bucket}/data")
    assert remote.registry_location == f"{s3_bucket}/models" and remote.datasets_location == f"{s3_bucket}/data"
    assert isinstance(open_registry(remote.registry_location, remote.cache_dir), ObjectRegistry)
    local = Settings(data_dir=tmp_path, registry_dir=f"file://{tmp_path}/models")
    assert type(open_registry(local.registry_location, local.cache_dir)).__name__ == "LocalRegistry"


def test_versions_are_numbered_from_one_and_read_back_by_another_replica(
    registry: ObjectRegistry, tmp_path: Path
) -> None:
    assert [publish(registry), publish(registry)] == [1, 2]
    other = open_registry(registry.url, tmp_path / "other-cache")  # another machine: its own cache
    assert other.resolve("iris") == 2
    assert [v.version for v in other.read_model("iris").versions] == [1, 2]
    summary = other.list_models()[0]
    assert (summary.name, summary.latest_version, summary.versions) == ("iris", 2, 2)
    artifact = other.artifact_path("iris", 1)
    assert artifact.read_bytes() == ARTIFACT_BYTES and (artifact.parent / "model.onnx").read_bytes() == b"onnx"
    assert other.read_version("iris", 1).sha256 == hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    with pytest.raises(VersionNotFound):
        other.read_version("iris", 3)
    with pytest.raises(ModelNotFound):
        other.resolve("nope")


def test_a_half_uploaded_version_is_invisible_and_its_number_never_reused(registry: ObjectRegistry) -> None:
    publish(registry)
    fs = s3fs.S3FileSystem()
    fs.pipe_file(f"{registry.root}/iris/2/.claim", b"")  # a publisher claimed 2, uploaded a file, then died
    fs.pipe_file(f"{registry.root}/iris/2/model.keras", ARTIFACT_BYTES)
    assert registry.resolve("iris") == 1 and registry.read_model("iris").versions[-1].version == 1
    assert publish(registry) == 3


def test_publishing_is_idempotent_per_job(registry: ObjectRegistry) -> None:
    job_id = str(uuid.uuid4())
    assert publish(registry, job_id=job_id) == 1
    assert publish(registry, job_id=job_id) == 1  # the retry of a publisher that died after publishing
    assert len(registry.read_model("iris").versions) == 1


def test_concurrent_publishers_get_distinct_versions(registry: ObjectRegistry, tmp_path: Path) -> None:
    publish(registry)
    replicas = [open_registry(registry.url, tmp_path / f"cache-{i}") for i in range(4)]
    numbers: list[int] = []
    barrier = threading.Barrier(len(replicas))

    def publish_after_barrier(replica: ObjectRegistry) -> None:
        barrier.wait()
        numbers.append(publish(replica))

    threads = [threading.Thread(target=publish_after_barrier, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(numbers) == [2, 3, 4, 5]


def test_aliases_move_and_a_pointed_at_version_cannot_be_deleted(registry: ObjectRegistry) -> None:
    publish(registry)
    publish(registry)
    assert registry.set_alias("iris", "production", 1) == {"production": 1}
    assert registry.resolve("iris", alias="production") == 1
    registry.set_alias("iris", "production", 2)
    assert registry.resolve("iris", alias="production") == 2
    with pytest.raises(Conflict, match="production"):
        registry.delete_version("iris", 2)
    with pytest.raises(VersionNotFound):
        registry.set_alias("iris", "staging", 9)
    assert registry.delete_alias("iris", "production") == {}
    with pytest.raises(AliasNotFound):
        registry.resolve("iris", alias="production")


def test_a_deleted_version_vanishes_and_its_number_is_never_reused(registry: ObjectRegistry) -> None:
    publish(registry)
    publish(registry)
    registry.delete_version("iris", 2)
    with pytest.raises(VersionNotFound):
        registry.read_version("iris", 2)
    assert publish(registry) == 3


def test_the_dataset_catalog_on_s3_publishes_lists_loads_and_deletes(s3_bucket: str) -> None:
    catalog = open_catalog(f"{s3_bucket}/datasets")
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    data = Dataset("tiny", x, np.array([0, 1, 0, 1, 0, 1]), "classification", ["no", "yes"])
    info = catalog.publish(data, format="npz", file_sha256="0" * 64)
    assert [d.id for d in catalog.list_datasets()] == [info.id]
    assert catalog.read(info.id).rows == 6
    loaded = open_catalog(f"{s3_bucket}/datasets").load(info.id)  # as a worker on another node loads it
    np.testing.assert_array_equal(loaded.x, x)
    assert loaded.classes == ["no", "yes"]
    catalog.delete(info.id)
    assert catalog.list_datasets() == []
    with pytest.raises(DatasetNotFound):
        catalog.load(info.id)
