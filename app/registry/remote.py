"""ObjectRegistry: the registry on shared storage through fsspec (`s3://bucket/prefix`, `file://...`), for
several API replicas and Ray nodes that do not share a filesystem.

An object store has no rename and no lock, so: a publisher claims the next version number by creating
`<name>/<version>/.claim` exclusively (S3's conditional `If-None-Match: *` write; a loser tries the next number),
uploads the files, and writes `metadata.json` last; the version exists from that one write on, so a crash
mid-upload leaves an invisible, never reused number. Alias moves are a single overwrite of `aliases.json`
(last writer wins when two land at once). Serving needs local files, so a version is downloaded once into a
local cache (versions are immutable) before it is loaded. Versions and aliases resolved by serving are re-read
at most `STAMP_WINDOW_S` late, unless this process made the change itself.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from app.registry.base import ALIASES, ARTIFACT, METADATA, STAGING, TOMBSTONE_PREFIX, Registry, used_numbers
from app.registry.names import is_valid_name
from app.registry.schemas import ModelVersion
from app.storage import download_folder, open_filesystem, upload_folder

CLAIM = ".claim"
STAMP_WINDOW_S = 1.0


class ObjectRegistry(Registry):
    """A model registry at an fsspec URL, with a local cache of the versions it serves."""

    def __init__(self, url: str, cache_dir: Path) -> None:
        self.url = url
        self.fs, self.root = open_filesystem(url)
        self.cache_dir = Path(cache_dir)
        super().__init__(self.cache_dir / STAGING)
        self._generation = 0  # bumped by this process's own writes, so that it sees them at once

    def _publish(self, name: str, staged: Path, metadata: dict[str, Any]) -> ModelVersion:
        """A failed try leaves at most a claimed, invisible number (never reused); a retry claims the next."""
        existing = self._published_by(name, metadata.get("job_id"))
        if existing is not None:
            shutil.rmtree(staged, ignore_errors=True)
            return existing
        version = self._claim_next(name)
        record = self._write_record(name, version, staged, metadata)
        upload_folder(self.fs, staged, self._path(name, str(version)), last=METADATA)
        shutil.rmtree(staged, ignore_errors=True)
        self._generation += 1
        return record

    def artifact_path(self, name: str, version: int) -> Path:
        self._require_version(name, version)
        local = download_folder(self.fs, self._path(name, str(int(version))), self.cache_dir / name / str(version))
        return local / ARTIFACT

    def is_reachable(self) -> bool:
        try:
            self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return True  # an empty bucket prefix: nothing published yet
        except OSError:
            return False
        return True

    def change_stamp(self, name: str) -> tuple[int, int]:
        """The current time window, and this process's own writes so far."""
        return int(time.monotonic() / STAMP_WINDOW_S), self._generation

    # --- primitives -----------------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _entries(self, *parts: str) -> list[str]:
        try:
            listed = self.fs.ls(self._path(*parts), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in listed]

    def _model_names(self) -> list[str]:
        return [entry for entry in self._entries() if is_valid_name(entry)]

    def _has_model(self, name: str) -> bool:
        return bool(self._entries(name))

    def _version_numbers(self, name: str) -> list[int]:
        found = self.fs.glob(self._path(name, "*", METADATA))
        return sorted(int(n) for n in (p.rsplit("/", 2)[-2] for p in found) if n.isdigit())

    def _read_file(self, name: str, relative: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(name, relative))
        except FileNotFoundError:
            return None

    def _write_aliases(self, name: str, aliases: dict[str, int]) -> None:
        self.fs.pipe_file(self._path(name, ALIASES), json.dumps(aliases, indent=2, sort_keys=True).encode())
        self._generation += 1

    def _write_json(self, name: str, relative: str, value: object) -> None:
        self.fs.pipe_file(self._path(name, relative), json.dumps(value, indent=2, sort_keys=True).encode())
        self._generation += 1

    def _locked(self, name: str) -> nullcontext[None]:
        self._require_model(name)
        return nullcontext()

    def _remove_version(self, name: str, version: int) -> None:
        self.fs.pipe_file(self._path(name, f"{TOMBSTONE_PREFIX}{version}"), b"")
        self.fs.rm_file(self._path(name, str(version), METADATA))  # gone for readers from here on
        self.fs.rm(self._path(name, str(version)), recursive=True)
        self._generation += 1

    def _claim_next(self, name: str) -> int:
        """The next unused version number, taken by an exclusive create so that two publishers never share it."""
        number = max(used_numbers(self._entries(name)), default=0) + 1
        while True:
            try:
                self.fs.pipe_file(self._path(name, str(number), CLAIM), b"", mode="create")
                return number
            except FileExistsError:
                number += 1
