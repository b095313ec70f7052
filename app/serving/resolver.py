"""Which version a request means (explicit, alias or latest), without reading the registry on every request.

Resolving reads several files, so answers are cached per model and trusted while the model's folder is unchanged:
publishing a version, moving an alias and deleting a version all add, rename or remove entries in that folder,
which changes its modification time, whichever process did it. A folder changed in the last second is not
trusted, since file times may be a few milliseconds coarse (as git does with "racy" index entries).
"""

from __future__ import annotations

import os
import time

from app.registry import LocalRegistry
from app.registry.names import is_valid_name

_RACY_NS = 1_000_000_000

Query = tuple[str, int | None, str | None]


class VersionResolver:
    def __init__(self, registry: LocalRegistry) -> None:
        self.registry = registry
        self._cache: dict[Query, tuple[int, int]] = {}
        self._folders: dict[str, str] = {}

    def resolve(self, name: str, version: int | None = None, alias: str | None = None) -> int:
        """The version number; raises the registry's NotFound or InvalidName errors as `registry.resolve` does."""
        query = (name, version, alias)
        stamp = self._stamp(name)
        cached = self._cache.get(query)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        number = self.registry.resolve(name, version, alias)
        if stamp is not None and time.time_ns() - stamp > _RACY_NS:
            self._cache[query] = (stamp, number)
        return number

    def _stamp(self, name: str) -> int | None:
        if not is_valid_name(name):
            return None
        folder = self._folders.get(name)
        if folder is None:
            folder = self._folders[name] = str(self.registry.root / name)
        try:
            return os.stat(folder).st_mtime_ns
        except OSError:
            return None
