"""LocalRegistry: the registry in a directory tree on a local (or mounted) filesystem.

Publishing writes into `<root>/.staging/<uuid>` and renames that folder into place, so a reader sees a whole
version or none. Versions are `max + 1` under a per-model file lock; deleted versions leave a tombstone so their
numbers are never reused. Readers skip anything that is not a complete integer version directory.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.durable import fsync_dir, write_json_atomically
from app.registry.base import ALIASES, ARTIFACT, METADATA, STAGING, TOMBSTONE_PREFIX, Registry, used_numbers
from app.registry.names import is_valid_name
from app.registry.schemas import ModelVersion

__all__ = ["ALIASES", "ARTIFACT", "METADATA", "LocalRegistry"]

_RACY_NS = 1_000_000_000


class LocalRegistry(Registry):
    """A model registry on a local (or mounted) filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        super().__init__(self.root / STAGING)
        self._folders: dict[str, str] = {}

    def _publish(self, name: str, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """Make `staged` (holding `model.keras`) the next version of `name`, atomically.

        Publishing is idempotent per job: if a version from the same `job_id` exists, it is returned and the
        staged copy dropped, so a publisher that crashed after the rename and retries publishes only once.
        """
        model_dir = self.root / name
        model_dir.mkdir(exist_ok=True)
        with self._locked(name):
            existing = self._published_by(name, metadata.get("job_id"))
            if existing is not None:
                shutil.rmtree(staged, ignore_errors=True)
                return existing
            version = max(used_numbers(os.listdir(model_dir)), default=0) + 1
            record = self._write_record(name, version, staged, metadata)
            os.rename(staged, model_dir / str(version))
            fsync_dir(model_dir)
            return record

    def artifact_path(self, name: str, version: int) -> Path:
        self._require_version(name, version)
        return self.root / name / str(int(version)) / ARTIFACT

    def is_reachable(self) -> bool:
        return self.root.is_dir()

    def change_stamp(self, name: str) -> int | None:
        """The model folder's modification time: publishing, alias moves and deletes all add, rename or remove
        entries in it, whichever process did it. A folder changed in the last second is not trusted, since file
        times may be a few milliseconds coarse (as git does with "racy" index entries)."""
        if not is_valid_name(name):
            return None
        folder = self._folders.get(name) or str(self.root / name)
        try:
            stamp = os.stat(folder).st_mtime_ns
        except OSError:
            return None
        self._folders[name] = folder  # only names that exist: made-up ones must not grow this
        return stamp if time.time_ns() - stamp > _RACY_NS else None

    # --- primitives -----------------------------------------------------------------------------------

    def _model_names(self) -> list[str]:
        return [p.name for p in self.root.iterdir() if p.is_dir() and is_valid_name(p.name)]  # not .staging

    def _has_model(self, name: str) -> bool:
        return (self.root / name).is_dir()

    def _version_numbers(self, name: str) -> list[int]:
        model_dir = self.root / name
        return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / METADATA).is_file())

    def _read_file(self, name: str, relative: str) -> bytes | None:
        try:
            return (self.root / name / relative).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _write_aliases(self, name: str, aliases: dict[str, int]) -> None:
        write_json_atomically(self.root / name / ALIASES, aliases)

    def _write_json(self, name: str, relative: str, value: object) -> None:
        write_json_atomically(self.root / name / relative, value)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Serialize writers of one model across processes."""
        self._require_model(name)
        with (self.root / name / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _remove_version(self, name: str, version: int) -> None:
        (self.root / name / f"{TOMBSTONE_PREFIX}{version}").touch()
        trash = self.staging_root / f"trash-{uuid.uuid4().hex}"
        os.rename(self.root / name / str(version), trash)
        shutil.rmtree(trash, ignore_errors=True)
