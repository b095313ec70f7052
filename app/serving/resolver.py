"""Which version a request means (explicit, alias or latest), without reading the registry on every request.

Resolving reads several files, so answers are cached per model and trusted while the registry's change stamp for
that model is unchanged (see `Registry.change_stamp`: the folder's modification time on a filesystem, a short
time window on an object store); a stamp of None means "just changed, do not cache".
"""

from __future__ import annotations

from collections.abc import Hashable

from app.registry import Registry
from app.registry.traffic import AliasTraffic

Query = tuple[str, int | None, str | None]


class VersionResolver:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._cache: dict[Query, tuple[Hashable, int]] = {}
        self._resolved: set[str] = set()
        self._traffic: dict[tuple[str, str], tuple[Hashable, AliasTraffic]] = {}

    def cached(self, name: str, version: int | None = None, alias: str | None = None) -> int | None:
        """The version number if a cached answer is still trusted, else None; cheap (safe on the event loop)."""
        return self._lookup((name, version, alias), self.registry.change_stamp(name))

    def resolve(self, name: str, version: int | None = None, alias: str | None = None) -> int:
        """The version number; raises the registry's NotFound or InvalidName errors as `registry.resolve` does.
        May read the registry (blocks: off the event loop unless `cached` answered)."""
        query = (name, version, alias)
        stamp = self.registry.change_stamp(name)
        number = self._lookup(query, stamp)
        if number is None:
            number = self.registry.resolve(name, version, alias)
            self._resolved.add(name)
            if stamp is not None:
                self._cache[query] = (stamp, number)
        return number

    def cached_traffic(self, name: str, alias: str) -> AliasTraffic | None:
        """An alias' traffic if a cached answer is still trusted, else None; cheap (safe on the event loop)."""
        stamp = self.registry.change_stamp(name)
        cached = self._traffic.get((name, alias))
        return cached[1] if stamp is not None and cached is not None and cached[0] == stamp else None

    def traffic(self, name: str, alias: str) -> AliasTraffic:
        """An alias' version, canary and shadow; may read the registry (blocks)."""
        stamp = self.registry.change_stamp(name)
        found = self.cached_traffic(name, alias)
        if found is None:
            found = self.registry.alias_traffic(name, alias)
            self._resolved.add(name)
            if stamp is not None:
                self._traffic[(name, alias)] = (stamp, found)
        return found

    def has_resolved(self, name: str) -> bool:
        """Whether a request ever named this model and found it: a name that may label metrics, where made-up
        names must not (each would be a series of its own)."""
        return name in self._resolved

    def _lookup(self, query: Query, stamp: Hashable | None) -> int | None:
        cached = self._cache.get(query)
        return cached[1] if stamp is not None and cached is not None and cached[0] == stamp else None
