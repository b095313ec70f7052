"""LocalRegistry on real directories: versions, atomic publishing (with real crashed processes), names, aliases.

The registry never opens `model.keras`, so any bytes stand in for a Keras file here.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import uuid
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from app.errors import AliasNotFound, Conflict, InvalidName, ModelNotFound, VersionNotFound
from app.registry.local import LocalRegistry
from app.registry.schemas import ModelSummary, ModelVersion

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT_S = 60
ARTIFACT_BYTES = b"not really a keras zip, but the registry only hashes and moves it"
INVALID_NAMES = ["../x", "a/b", ".hidden", "UPPER", "", "a" * 65, "-dash", "a b", "x\n"]


def stage(registry: LocalRegistry, payload: bytes = ARTIFACT_BYTES) -> Path:
    """A staging folder holding a `model.keras`, as a publisher leaves it just before publishing."""
    staged = registry.new_staging_dir()
    (staged / "model.keras").write_bytes(payload)
    return staged


def model_metadata(job_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "input_shape": [None, 4],
        "output_shape": [None, 3],
        "task": "classification",
        "classes": ["a", "b", "c"],
        "job_id": job_id or str(uuid.uuid4()),
        "metrics": {"accuracy": 0.9},
        **extra,
    }


def publish(registry: LocalRegistry, name: str = "iris", job_id: str | None = None) -> ModelVersion:
    return registry.publish(name, stage(registry), model_metadata(job_id))


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (the same virtualenv), as a separate publisher process would."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )


# --- publishing -----------------------------------------------------------------------------------------


def test_publish_numbers_versions_from_one(registry: LocalRegistry) -> None:
    assert [publish(registry).version for _ in range(3)] == [1, 2, 3]
    assert [v.version for v in registry.read_model("iris").versions] == [1, 2, 3]
    assert registry.resolve("iris") == 3


def test_publish_writes_metadata_with_name_version_sha256_and_created_at(
    registry: LocalRegistry, registry_root: Path
) -> None:
    staged = stage(registry)

    record = registry.publish("iris", staged, model_metadata("job-1"))

    version_dir = registry_root / "iris" / "1"
    on_disk = json.loads((version_dir / "metadata.json").read_text())
    assert on_disk["name"] == "iris"
    assert on_disk["version"] == 1
    assert on_disk["sha256"] == hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    assert datetime.fromisoformat(on_disk["created_at"]).tzinfo is not None
    assert on_disk["job_id"] == "job-1"
    assert on_disk["input_shape"] == [None, 4] and on_disk["output_shape"] == [None, 3]
    assert on_disk["classes"] == ["a", "b", "c"]
    assert (version_dir / "model.keras").read_bytes() == ARTIFACT_BYTES
    assert not staged.exists()  # renamed into place, not copied
    assert registry.read_version("iris", 1) == record
    assert registry.artifact_path("iris", 1) == version_dir / "model.keras"


def test_publish_overrides_name_version_and_hash_given_in_metadata(registry: LocalRegistry) -> None:
    forged = model_metadata(name="other", version=99, sha256="0" * 64)

    record = registry.publish("iris", stage(registry), forged)

    assert (record.name, record.version) == ("iris", 1)
    assert record.sha256 == hashlib.sha256(ARTIFACT_BYTES).hexdigest()


def test_versions_of_different_models_are_numbered_separately(registry: LocalRegistry) -> None:
    publish(registry, "iris")
    publish(registry, "iris")

    assert publish(registry, "digits").version == 1
    assert registry.list_models() == [
        ModelSummary(name="digits", latest_version=1, aliases={}, versions=1),
        ModelSummary(name="iris", latest_version=2, aliases={}, versions=2),
    ]


def test_publishing_twice_with_one_job_id_gives_one_version(registry: LocalRegistry, registry_root: Path) -> None:
    first = publish(registry, job_id="job-1")
    retry_staged = stage(registry)

    second = registry.publish("iris", retry_staged, model_metadata("job-1"))

    assert second == first
    assert [v.version for v in registry.read_model("iris").versions] == [1]
    assert not retry_staged.exists()  # the duplicate staged copy is dropped
    assert publish(registry, job_id="job-2").version == 2


def test_reading_an_unknown_model_or_version_raises_not_found(registry: LocalRegistry) -> None:
    with pytest.raises(ModelNotFound):
        registry.read_model("iris")
    with pytest.raises(ModelNotFound):
        registry.resolve("iris")
    publish(registry)
    with pytest.raises(VersionNotFound):
        registry.read_version("iris", 2)
    with pytest.raises(VersionNotFound):
        registry.resolve("iris", version=2)
    assert registry.resolve("iris", version=1) == 1


# --- atomic publishing ----------------------------------------------------------------------------------

_CRASH_AFTER_STAGING = """
import os, sys
from pathlib import Path
from app.registry.local import LocalRegistry

staged = LocalRegistry(Path(sys.argv[1])).new_staging_dir()
(staged / "model.keras").write_bytes(b"half-trained")
(staged / "metadata.json").write_text('{"name": "iris", "version": 1}')
print(staged, flush=True)
os._exit(1)  # the publisher dies before it calls publish()
"""

_CRASH_BEFORE_RENAME = """
import json, os, sys
from pathlib import Path
from app.registry.local import LocalRegistry

registry = LocalRegistry(Path(sys.argv[1]))
staged = registry.new_staging_dir()
(staged / "model.keras").write_bytes(b"trained")
print(staged, flush=True)

def crash(*args, **kwargs):
    os._exit(1)  # the process dies at the very moment it would rename the version into place

os.rename = crash
registry.publish("iris", staged, json.loads(sys.argv[2]))
os._exit(0)  # not reached
"""


def test_a_publisher_crashing_after_staging_leaves_no_visible_version(
    registry: LocalRegistry, registry_root: Path
) -> None:
    child = run_child(_CRASH_AFTER_STAGING, str(registry_root))

    assert child.returncode == 1, child.stderr
    staged = Path(child.stdout.strip())
    assert (staged / "model.keras").is_file()  # the crash really came after staging
    assert registry.list_models() == []
    with pytest.raises(ModelNotFound):
        registry.read_model("iris")
    with pytest.raises(ModelNotFound):
        registry.resolve("iris")
    assert publish(registry).version == 1


def test_a_publisher_crashing_just_before_the_rename_leaves_no_visible_version(
    registry: LocalRegistry, registry_root: Path
) -> None:
    child = run_child(_CRASH_BEFORE_RENAME, str(registry_root), json.dumps(model_metadata("job-1")))

    assert child.returncode == 1, child.stderr
    staged = Path(child.stdout.strip())
    assert (staged / "metadata.json").is_file()  # publish() had got as far as writing the metadata
    assert registry.list_models() == [ModelSummary(name="iris", latest_version=None, aliases={}, versions=0)]
    assert registry.read_model("iris").versions == []
    with pytest.raises(VersionNotFound):
        registry.resolve("iris")
    # The dead process's lock is gone with it, and the retry of that job publishes version 1, once.
    assert publish(registry, job_id="job-1").version == 1
    assert [v.version for v in registry.read_model("iris").versions] == [1]


def test_a_version_directory_without_metadata_is_skipped_by_readers(
    registry: LocalRegistry, registry_root: Path
) -> None:
    publish(registry)
    half_written = registry_root / "iris" / "2"
    half_written.mkdir()
    (half_written / "model.keras").write_bytes(b"half")
    (registry_root / "iris" / "notes").mkdir()

    assert [v.version for v in registry.read_model("iris").versions] == [1]
    assert registry.list_models() == [ModelSummary(name="iris", latest_version=1, aliases={}, versions=1)]
    assert registry.resolve("iris") == 1
    with pytest.raises(VersionNotFound):
        registry.read_version("iris", 2)
    with pytest.raises(VersionNotFound):
        registry.set_alias("iris", "prod", 2)
    # The next version does not land on top of the half-written folder.
    assert publish(registry).version == 3
    assert (half_written / "model.keras").read_bytes() == b"half"


# --- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_publish_refuses_an_unsafe_name_and_creates_nothing(registry: LocalRegistry, data_dir: Path, name: str) -> None:
    staged = stage(registry)
    before = tree(data_dir.parent)

    with pytest.raises(InvalidName):
        registry.publish(name, staged, model_metadata())

    assert tree(data_dir.parent) == before
    assert registry.list_models() == []


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_readers_refuse_an_unsafe_name(registry: LocalRegistry, name: str) -> None:
    with pytest.raises(InvalidName):
        registry.read_model(name)
    with pytest.raises(InvalidName):
        registry.resolve(name)
    with pytest.raises(InvalidName):
        registry.read_version(name, 1)


def test_a_name_escaping_the_root_cannot_read_a_model_outside_it(registry: LocalRegistry, data_dir: Path) -> None:
    outside = data_dir / "secret" / "1"
    outside.mkdir(parents=True)
    (outside / "metadata.json").write_text("{}")

    with pytest.raises(InvalidName):
        registry.read_model("../secret")


def test_the_longest_allowed_name_is_accepted(registry: LocalRegistry) -> None:
    name = "a" * 64

    assert registry.publish(name, stage(registry), model_metadata()).name == name


@pytest.mark.parametrize("alias", ["../x", "Prod", "", ".a"])
def test_set_alias_refuses_an_unsafe_alias(registry: LocalRegistry, alias: str) -> None:
    publish(registry)

    with pytest.raises(InvalidName):
        registry.set_alias("iris", alias, 1)
    assert registry.read_aliases("iris") == {}


# --- aliases --------------------------------------------------------------------------------------------


def test_aliases_can_be_set_moved_read_and_deleted(registry: LocalRegistry) -> None:
    publish(registry)
    publish(registry)

    assert registry.set_alias("iris", "prod", 1) == {"prod": 1}
    assert registry.set_alias("iris", "staging", 2) == {"prod": 1, "staging": 2}
    assert registry.set_alias("iris", "prod", 2) == {"prod": 2, "staging": 2}
    assert registry.read_aliases("iris") == {"prod": 2, "staging": 2}
    assert registry.read_model("iris").aliases == {"prod": 2, "staging": 2}
    assert registry.list_models()[0].aliases == {"prod": 2, "staging": 2}

    assert registry.delete_alias("iris", "staging") == {"prod": 2}
    assert registry.read_aliases("iris") == {"prod": 2}


def test_resolve_by_alias_returns_its_version(registry: LocalRegistry) -> None:
    publish(registry)
    publish(registry)
    registry.set_alias("iris", "prod", 1)

    assert registry.resolve("iris", alias="prod") == 1
    assert registry.resolve("iris") == 2


def test_resolve_by_an_unknown_alias_raises_alias_not_found(registry: LocalRegistry) -> None:
    publish(registry)

    with pytest.raises(AliasNotFound):
        registry.resolve("iris", alias="prod")


def test_deleting_an_unknown_alias_raises_alias_not_found(registry: LocalRegistry) -> None:
    publish(registry)

    with pytest.raises(AliasNotFound):
        registry.delete_alias("iris", "prod")


def test_set_alias_to_a_missing_version_raises_version_not_found(registry: LocalRegistry) -> None:
    publish(registry)
    registry.set_alias("iris", "prod", 1)

    with pytest.raises(VersionNotFound):
        registry.set_alias("iris", "prod", 2)
    assert registry.read_aliases("iris") == {"prod": 1}


def test_set_alias_on_an_unknown_model_raises_model_not_found(registry: LocalRegistry) -> None:
    with pytest.raises(ModelNotFound):
        registry.set_alias("iris", "prod", 1)


# --- deleting versions ----------------------------------------------------------------------------------


def test_a_deleted_version_disappears_and_its_number_is_never_reused(registry: LocalRegistry) -> None:
    publish(registry)
    publish(registry)

    registry.delete_version("iris", 2)

    assert [v.version for v in registry.read_model("iris").versions] == [1]
    assert registry.resolve("iris") == 1
    with pytest.raises(VersionNotFound):
        registry.read_version("iris", 2)
    assert publish(registry).version == 3


def test_deleting_every_version_still_never_reuses_numbers(registry: LocalRegistry) -> None:
    publish(registry)

    registry.delete_version("iris", 1)

    with pytest.raises(VersionNotFound):
        registry.resolve("iris")
    assert publish(registry).version == 2


def test_deleting_a_version_an_alias_points_at_raises_conflict(registry: LocalRegistry) -> None:
    publish(registry)
    registry.set_alias("iris", "prod", 1)

    with pytest.raises(Conflict, match="prod"):
        registry.delete_version("iris", 1)

    assert registry.resolve("iris", alias="prod") == 1
    registry.delete_alias("iris", "prod")
    registry.delete_version("iris", 1)
    assert registry.read_model("iris").versions == []


def test_deleting_a_missing_version_raises_version_not_found(registry: LocalRegistry) -> None:
    publish(registry)

    with pytest.raises(VersionNotFound):
        registry.delete_version("iris", 5)


# --- concurrent publishers ------------------------------------------------------------------------------


def _publish_in_process(root: str, worker: int, count: int, barrier: Barrier, results: Queue[tuple[str, int]]) -> None:
    """Child process: an own LocalRegistry on the shared root; publish `count` versions once all have started."""
    registry = LocalRegistry(Path(root))
    staged = [stage(registry, f"worker {worker} model {i}".encode()) for i in range(count)]
    barrier.wait(timeout=PROCESS_TIMEOUT_S)
    for i, folder in enumerate(staged):
        job_id = f"job-{worker}-{i}"
        results.put((job_id, registry.publish("iris", folder, model_metadata(job_id)).version))


def test_concurrent_publishers_get_distinct_consecutive_versions(registry: LocalRegistry, registry_root: Path) -> None:
    processes, per_process = 4, 3
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results: Queue[tuple[str, int]] = ctx.Queue()
    children = [
        ctx.Process(target=_publish_in_process, args=(str(registry_root), w, per_process, barrier, results))
        for w in range(processes)
    ]
    for child in children:
        child.start()
    try:
        published = dict(results.get(timeout=PROCESS_TIMEOUT_S) for _ in range(processes * per_process))
    finally:
        for child in children:
            child.join(timeout=PROCESS_TIMEOUT_S)
    assert [child.exitcode for child in children] == [0] * processes

    assert sorted(published.values()) == list(range(1, processes * per_process + 1))
    for job_id, version in published.items():
        record = registry.read_version("iris", version)
        assert record.job_id == job_id
        worker, i = job_id.removeprefix("job-").split("-")
        expected = f"worker {worker} model {i}".encode()
        assert record.sha256 == hashlib.sha256(expected).hexdigest()
        assert registry.artifact_path("iris", version).read_bytes() == expected


# Known app bug: list_models() passes every non-dot folder of the root to read_aliases(), whose check_name()
# raises InvalidName, so one stray folder (`lost+found` at the root of a mounted volume) breaks the listing.
def test_list_models_skips_folders_that_are_not_model_names(registry: LocalRegistry, registry_root: Path) -> None:
    publish(registry)
    (registry_root / "lost+found").mkdir()

    assert [m.name for m in registry.list_models()] == ["iris"]
