"""Sweep the staging folders at start: what a crash or a cancel left of a publish (the registry's `.staging`,
or a remote registry's local cache's) or of an upload (the dataset catalog's `.staging`).

Only entries nothing under which has changed for `STALE_AFTER_S` go: on shared storage another process may be
publishing into the same folder right now.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from app.datasets.catalog import STAGING
from app.registry import open_registry
from app.settings import Settings
from app.storage import local_path

log = logging.getLogger("maas.worker")

STALE_AFTER_S = 3600.0


def sweep_stale_staging(settings: Settings, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the stale entries of this process's staging folders; returns what was removed."""
    folders = [open_registry(settings.registry_location, settings.cache_dir).staging_root]
    catalog = local_path(settings.datasets_location)
    if catalog is not None:  # a remote catalog stages in temporary folders, which the system cleans
        folders.append(catalog / STAGING)
    removed = [entry for folder in folders for entry in remove_stale(folder, older_than_s=older_than_s)]
    if removed:
        log.info("removed %d stale staging folder(s): %s", len(removed), ", ".join(map(str, removed)))
    return removed


def remove_stale(folder: Path, *, older_than_s: float) -> list[Path]:
    """The entries of `folder` whose newest modification (theirs or anything's under them) is older than
    `older_than_s`, removed."""
    cutoff = time.time() - older_than_s
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    stale = [entry for entry in entries if _last_change(entry) < cutoff]
    for entry in stale:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return stale


def _last_change(entry: Path) -> float:
    try:
        newest = entry.lstat().st_mtime
        if entry.is_dir() and not entry.is_symlink():
            for root, dirs, files in os.walk(entry):
                for name in (*dirs, *files):
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    except FileNotFoundError:  # removed meanwhile (a publish that finished): not ours to sweep
        return time.time()
    return newest
