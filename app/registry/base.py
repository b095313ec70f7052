"""What every registry does the same way, whatever holds its files: resolving versions and aliases, listing,
the alias check before a delete. A subclass supplies the storage primitives (the abstract methods below).

Layout, on a filesystem or an object store alike: `<root>/<name>/<version>/{model.keras, metadata.json, ...}`,
`<root>/<name>/aliases.json` (`{alias: version}`), `<root>/<name>/traffic.json` (the canary and shadow of
the aliases that have one), `<root>/<name>/monitoring.json` (payload logging), and a tombstone
`<root>/<name>/.deleted-<version>` per deleted version so that its number is never reused. A version exists
once its `metadata.json` does; that file is always written last. A publisher writes a version's files into a
local staging folder first (`.staging/<hex>` beside the files, or in a remote registry's local cache); what a
crash or a cancel leaves there is swept at start (app/worker/staging.py).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.durable import write_json_atomically
from app.errors import AliasNotFound, Conflict, ModelNotFound, VersionNotFound
from app.registry.names import check_name
from app.registry.schemas import ModelDetail, ModelSummary, ModelVersion
from app.registry.staging import StagingFolders, full_disk_failpoint
from app.registry.traffic import AliasTraffic, Canary, Shadow

METADATA = "metadata.json"
ARTIFACT = "model.keras"
ALIASES = "aliases.json"
TRAFFIC = "traffic.json"
MONITORING = "monitoring.json"
TOMBSTONE_PREFIX = ".deleted-"
STAGING = ".staging"


def used_numbers(entries: Iterator[str] | list[str]) -> list[int]:
    """Version numbers taken by a model folder's entries: versions (complete or not) and tombstones."""
    numbers = []
    for entry in entries:
        number = entry.removeprefix(TOMBSTONE_PREFIX)
        if number.isdigit():
            numbers.append(int(number))
    return numbers


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Registry(StagingFolders, ABC):
    """Versions, aliases and deletion over the storage primitives of a subclass; the staging folders publishers
    write into (`new_staging_dir`, `discard_unpublished`) come from `StagingFolders`."""

    def publish(self, name: str, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """Make `staged` the next version of `name`, atomically and once per `metadata["job_id"]`: a publisher
        that retries after a failure (or a crash) after its version was made gets that version back."""
        check_name(name)
        full_disk_failpoint(staged)
        record = self._publish(name, staged, metadata)
        self._mark_published(staged)
        return record

    # --- primitives -----------------------------------------------------------------------------------

    @abstractmethod
    def _publish(self, name: str, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """`publish` on this storage; `staged` is moved or removed once the version exists."""

    @abstractmethod
    def artifact_path(self, name: str, version: int) -> Path:
        """A local path of the version's `model.keras`, its other files beside it."""

    @abstractmethod
    def is_reachable(self) -> bool:
        """Whether the registry's storage answers (for readiness)."""

    @abstractmethod
    def change_stamp(self, name: str) -> Hashable | None:
        """A value that changes whenever `name`'s versions or aliases may have; None = do not cache."""

    @abstractmethod
    def _model_names(self) -> list[str]: ...

    @abstractmethod
    def _has_model(self, name: str) -> bool: ...

    @abstractmethod
    def _version_numbers(self, name: str) -> list[int]:
        """The complete versions (those with metadata), ascending."""

    @abstractmethod
    def _read_file(self, name: str, relative: str) -> bytes | None:
        """`<root>/<name>/<relative>`, or None when it does not exist."""

    @abstractmethod
    def _write_aliases(self, name: str, aliases: dict[str, int]) -> None: ...

    @abstractmethod
    def _write_json(self, name: str, relative: str, value: object) -> None:
        """Replace `<root>/<name>/<relative>` with `value` as JSON, at once."""

    @abstractmethod
    def _locked(self, name: str) -> AbstractContextManager[None]:
        """Serialize writers of one model, as far as the storage allows."""

    @abstractmethod
    def _remove_version(self, name: str, version: int) -> None:
        """Leave a tombstone, then remove the version (its metadata first, so it vanishes at once)."""

    # --- reading --------------------------------------------------------------------------------------

    def list_models(self) -> list[ModelSummary]:
        summaries = []
        for name in sorted(self._model_names()):
            numbers = self._version_numbers(name)
            summaries.append(
                ModelSummary(
                    name=name,
                    latest_version=max(numbers, default=None),
                    aliases=self.read_aliases(name),
                    versions=len(numbers),
                )
            )
        return summaries

    def read_model(self, name: str) -> ModelDetail:
        self._require_model(name)
        traffic = self.read_traffic(name)
        aliases = {alias: route.version for alias, route in traffic.items()}
        return ModelDetail(name=name, aliases=aliases, versions=self._versions(name), traffic=traffic)

    def read_version(self, name: str, version: int) -> ModelVersion:
        self._require_model(name)
        raw = self._read_file(name, f"{int(version)}/{METADATA}")
        if raw is None:
            raise VersionNotFound(f"model {name!r} has no version {version}")
        return ModelVersion.model_validate_json(raw)

    def read_version_file(self, name: str, version: int, filename: str) -> bytes | None:
        """A file of a version folder besides its metadata (e.g. its drift baseline); None when it has none."""
        self._require_version(name, version)
        return self._read_file(name, f"{int(version)}/{filename}")

    def resolve(self, name: str, version: int | None = None, alias: str | None = None) -> int:
        """The version number meant by an explicit version, an alias, or neither (= the latest)."""
        if version is not None:
            self._require_version(name, version)  # the model's existence included
            return version
        self._require_model(name)
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
        raw = self._read_file(check_name(name), ALIASES)
        return json.loads(raw) if raw is not None else {}

    def read_traffic(self, name: str) -> dict[str, AliasTraffic]:
        """Each alias' version with its canary and shadow, if any."""
        splits = self._splits(name)
        return {a: AliasTraffic(version=v, **splits.get(a, {})) for a, v in self.read_aliases(name).items()}

    def alias_traffic(self, name: str, alias: str) -> AliasTraffic:
        self._require_model(name)
        traffic = self.read_traffic(name)
        if alias not in traffic:
            raise AliasNotFound(f"model {name!r} has no alias {alias!r}; it has {sorted(traffic) or 'none'}")
        return traffic[alias]

    def set_alias(
        self, name: str, alias: str, version: int, *, canary: Canary | None = None, shadow: Shadow | None = None
    ) -> dict[str, int]:
        """Point `alias` at `version`, with the canary and shadow given (none given: the alias loses its own)."""
        check_name(alias, "alias")
        route = AliasTraffic(version=version, canary=canary, shadow=shadow)
        with self._locked(name):
            for number in route.versions:
                self._require_version(name, number)
            self._write_split(name, alias, route.model_dump(exclude={"version"}, exclude_none=True))
            aliases = {**self.read_aliases(name), alias: version}
            self._write_aliases(name, aliases)
        return aliases

    def delete_alias(self, name: str, alias: str) -> dict[str, int]:
        with self._locked(name):
            aliases = self.read_aliases(name)
            if alias not in aliases:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            del aliases[alias]
            self._write_aliases(name, aliases)
            self._write_split(name, alias, {})
        return aliases

    def read_monitoring(self, name: str) -> dict[str, Any]:
        """A model's monitoring settings (`log_sample_rate`); none set: `{}`."""
        self._require_model(name)
        raw = self._read_file(name, MONITORING)
        return json.loads(raw) if raw is not None else {}

    def set_monitoring(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        with self._locked(name):
            self._write_json(name, MONITORING, settings)
        return settings

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version for good; its number is never reused. Refused while an alias points at it."""
        with self._locked(name):
            self._require_version(name, version)
            pointing = sorted(a for a, route in self.read_traffic(name).items() if version in route.versions)
            if pointing:
                raise Conflict(
                    f"alias {', '.join(pointing)} of model {name!r} points at version {version}; "
                    "move or delete the alias first"
                )
            self._remove_version(name, version)

    # --- helpers --------------------------------------------------------------------------------------

    def _require_model(self, name: str) -> None:
        if not self._has_model(check_name(name)):
            raise ModelNotFound(f"no model named {name!r}")

    def _require_version(self, name: str, version: int) -> None:
        self._require_model(name)
        if self._read_file(name, f"{int(version)}/{METADATA}") is None:
            raise VersionNotFound(f"model {name!r} has no version {version}")

    def _write_record(self, name: str, version: int, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """The version's record, written into `staged` as its `metadata.json`, the file that makes it exist."""
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
        return record

    def _splits(self, name: str) -> dict[str, dict[str, Any]]:
        raw = self._read_file(check_name(name), TRAFFIC)
        return json.loads(raw) if raw is not None else {}

    def _write_split(self, name: str, alias: str, split: dict[str, Any]) -> None:
        """Record (or, when empty, drop) an alias' canary and shadow; a model without any writes nothing."""
        splits = self._splits(name)
        if splits.get(alias, {}) == split:
            return
        if split:
            splits[alias] = split
        else:
            splits.pop(alias, None)
        self._write_json(name, TRAFFIC, splits)

    def _versions(self, name: str) -> list[ModelVersion]:
        return [self.read_version(name, v) for v in self._version_numbers(name)]

    def _published_by(self, name: str, job_id: str | None) -> ModelVersion | None:
        """The version a job already published (publishing is idempotent per job)."""
        if not job_id:
            return None
        return next((v for v in self._versions(name) if v.job_id == job_id), None)
