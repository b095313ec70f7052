"""LocalRegistry: models in a directory tree, `<root>/<name>/<version>/{model.keras, metadata.json}`.

Publishing writes into `<root>/.staging/<uuid>` and renames that folder into place, so a reader sees a whole
version or none. Versions are `max + 1` under a per-model file lock; deleted versions leave a tombstone so their
numbers are never reused. Readers skip anything that is not a complete integer version directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.durable import fsync_dir, write_json_atomically
from app.errors import AliasNotFound, Conflict, ModelNotFound, VersionNotFound
from app.registry.models import ModelDetail, ModelSummary, ModelVersion
from app.registry.names import check_name, is_valid_name

METADATA = "metadata.json"
ARTIFACT = "model.keras"
ALIASES = "aliases.json"
TOMBSTONE_PREFIX = ".deleted-"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalRegistry:
    """A model registry on a local (or mounted) filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / ".staging").mkdir(parents=True, exist_ok=True)

    # --- publishing -----------------------------------------------------------------------------------

    def new_staging_dir(self) -> Path:
        """A fresh folder on the registry's filesystem for a publisher to write `model.keras` and friends into."""
        path = self.root / ".staging" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def publish(self, name: str, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """Make `staged` (holding `model.keras`) the next version of `name`, atomically.

        Publishing is idempotent per job: if a version from the same `job_id` exists, it is returned and the
        staged copy dropped, so a publisher that crashed after the rename and retries publishes only once.
        """
        check_name(name)
        model_dir = self.root / name
        model_dir.mkdir(exist_ok=True)
        with self._locked(name):
            job_id = metadata.get("job_id")
            existing = next((v for v in self._versions(name) if job_id and v.job_id == job_id), None)
            if existing is not None:
                shutil.rmtree(staged, ignore_errors=True)
                return existing
            version = self._next_version(name)
            record = ModelVersion(
                **{
                    **metadata,
                    "name": name,
                    "version": version,
                    "created_at": datetime.now(UTC),
                    "sha256": file_sha256(staged / ARTIFACT),
                }
            )
            write_json_atomically(staged / METADATA, record.model_dump(mode="json"))
            os.rename(staged, model_dir / str(version))
            fsync_dir(model_dir)
            return record

    # --- reading --------------------------------------------------------------------------------------

    def list_models(self) -> list[ModelSummary]:
        summaries = []
        for path in sorted(self.root.iterdir()):
            if not path.is_dir() or not is_valid_name(path.name):  # staging, lost+found, ...
                continue
            numbers = self._version_numbers(path.name)
            summaries.append(
                ModelSummary(
                    name=path.name,
                    latest_version=max(numbers, default=None),
                    aliases=self.read_aliases(path.name),
                    versions=len(numbers),
                )
            )
        return summaries

    def read_model(self, name: str) -> ModelDetail:
        self._require_model(name)
        return ModelDetail(name=name, aliases=self.read_aliases(name), versions=self._versions(name))

    def read_version(self, name: str, version: int) -> ModelVersion:
        path = self._version_dir(name, version) / METADATA
        return ModelVersion.model_validate_json(path.read_bytes())

    def artifact_path(self, name: str, version: int) -> Path:
        return self._version_dir(name, version) / ARTIFACT

    def resolve(self, name: str, version: int | None = None, alias: str | None = None) -> int:
        """The version number meant by an explicit version, an alias, or neither (= the latest)."""
        self._require_model(name)
        if version is not None:
            self._version_dir(name, version)
            return version
        if alias is not None:
            aliases = self.read_aliases(name)
            if alias not in aliases:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}; it has {sorted(aliases) or 'none'}")
            return aliases[alias]
        numbers = self._version_numbers(name)
        if not numbers:
            raise VersionNotFound(f"model {name!r} has no versions")
        return max(numbers)

    # --- aliases and deletion -------------------------------------------------------------------------

    def read_aliases(self, name: str) -> dict[str, int]:
        path = self.root / check_name(name) / ALIASES
        return json.loads(path.read_text()) if path.exists() else {}

    def set_alias(self, name: str, alias: str, version: int) -> dict[str, int]:
        check_name(alias, "alias")
        with self._locked(name):
            self._version_dir(name, version)
            aliases = {**self.read_aliases(name), alias: version}
            write_json_atomically(self.root / name / ALIASES, aliases)
        return aliases

    def delete_alias(self, name: str, alias: str) -> dict[str, int]:
        with self._locked(name):
            aliases = self.read_aliases(name)
            if alias not in aliases:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            del aliases[alias]
            write_json_atomically(self.root / name / ALIASES, aliases)
        return aliases

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version for good; its number is never reused. Refused while an alias points at it."""
        with self._locked(name):
            path = self._version_dir(name, version)
            pointing = sorted(a for a, v in self.read_aliases(name).items() if v == version)
            if pointing:
                raise Conflict(
                    f"alias {', '.join(pointing)} of model {name!r} points at version {version}; "
                    "move or delete the alias first"
                )
            (self.root / name / f"{TOMBSTONE_PREFIX}{version}").touch()
            trash = self.root / ".staging" / f"trash-{uuid.uuid4().hex}"
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------------------------

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

    def _require_model(self, name: str) -> None:
        if not (self.root / check_name(name)).is_dir():
            raise ModelNotFound(f"no model named {name!r}")

    def _version_numbers(self, name: str) -> list[int]:
        model_dir = self.root / name
        return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / METADATA).is_file())

    def _versions(self, name: str) -> list[ModelVersion]:
        return [self.read_version(name, v) for v in self._version_numbers(name)]

    def _next_version(self, name: str) -> int:
        used = [int(p.name) for p in (self.root / name).iterdir() if p.name.isdigit()]
        used += [int(p.name.removeprefix(TOMBSTONE_PREFIX)) for p in (self.root / name).glob(f"{TOMBSTONE_PREFIX}*")]
        return max(used, default=0) + 1

    def _version_dir(self, name: str, version: int) -> Path:
        self._require_model(name)
        path = self.root / name / str(int(version))
        if not (path / METADATA).is_file():
            raise VersionNotFound(f"model {name!r} has no version {version}")
        return path
