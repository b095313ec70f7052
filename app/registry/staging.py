"""The local folders a publisher writes a version's files into before `publish`, and the removal of those a failed
try never published (its copy of the model must not fill the disk while the publish is retried); plus the
full-disk failpoint the publish-retry tests use."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path

FULL_DISK_FAILPOINT = "registry_full"

_failpoint_hits: dict[str, int] = {}


def full_disk_failpoint(staged: Path) -> None:
    """Fail as a full disk would (ENOSPC) when MAAS_FAILPOINT is `registry_full` (every publish) or
    `registry_full:N` (this process's first N publishes): the publish-retry tests fill the registry's disk on
    cue, which a test cannot do for real without privileges (a root test ignores a read-only folder)."""
    name, _, times = os.environ.get("MAAS_FAILPOINT", "").partition(":")
    if name != FULL_DISK_FAILPOINT:
        return
    hits = _failpoint_hits[name] = _failpoint_hits.get(name, 0) + 1
    if not times or hits <= int(times):
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (MAAS_FAILPOINT={name})", str(staged))


class StagingFolders:
    """The staging folders a registry hands out under `staging_root`, and which of them are not yet published."""

    def __init__(self, staging_root: Path) -> None:
        self.staging_root = staging_root
        staging_root.mkdir(parents=True, exist_ok=True)
        self._unpublished: set[Path] = set()

    def new_staging_dir(self) -> Path:
        """A fresh local folder for a publisher to write `model.keras` and friends into; until it is published,
        `discard_unpublished` removes it (a failed publish's copy of the model must not fill the disk)."""
        path = self.staging_root / uuid.uuid4().hex
        path.mkdir()
        self._unpublished.add(path)
        return path

    def discard_unpublished(self) -> None:
        """Remove the staging folders this instance handed out and never published (a failed try's files)."""
        for path in self._unpublished:
            shutil.rmtree(path, ignore_errors=True)
        self._unpublished.clear()

    def _mark_published(self, staged: Path) -> None:
        """`staged` is a version now (moved or removed by the publish): no longer this instance's to discard."""
        self._unpublished.discard(staged)
