"""ModelCache: an LRU cache of loaded model versions, each called through one fast inference function.

A version is loaded once, warmed up (its first calls trace and allocate) before anyone may use it, and kept
while among the `capacity` most recently used. Loads of different versions run in parallel; concurrent loads of
one version happen once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.registry import ModelVersion, Registry
from app.serving.runtimes import Infer, open_runtime

Key = tuple[str, int]

#: A version whose full batch takes less than this is called inline on the event loop (see the batcher): the
#: 784-128-64-10 MLP on ONNX Runtime takes ~0.1 ms for 64 rows, a worker-thread round trip ~0.1-0.2 ms.
INLINE_BELOW_S = 0.0003


@dataclass(eq=False)
class LoadedModel:
    """A version ready to call; `calls` and `rows` count what it served (the batcher calls it)."""

    meta: ModelVersion
    runtime: str
    infer: Infer
    #: Called on the event loop rather than in a worker thread: a full batch takes less than two thread switches.
    inline: bool = False
    calls: int = 0
    rows: int = 0

    @property
    def key(self) -> Key:
        return (self.meta.name, self.meta.version)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.rows += len(batch)
        return self.infer(batch)


def load(registry: Registry, name: str, version: int, warm_rows: int = 1) -> LoadedModel:
    meta = registry.read_version(name, version)
    runtime, infer = open_runtime(registry.artifact_path(name, version).parent, meta)
    infer(np.zeros((1, *meta.input_shape[1:]), dtype=np.float32))  # trace, allocate and page in now
    full = np.zeros((max(1, warm_rows), *meta.input_shape[1:]), dtype=np.float32)
    slowest_call = min(_timed(infer, full) for _ in range(3))
    return LoadedModel(meta, runtime, infer, inline=slowest_call < INLINE_BELOW_S)


def _timed(infer: Infer, batch: np.ndarray) -> float:
    started = time.perf_counter()
    infer(batch)
    return time.perf_counter() - started


class ModelCache:
    """Loads each (name, version) once; keeps the `capacity` most recently used."""

    def __init__(self, registry: Registry, capacity: int, warm_rows: int = 1) -> None:
        self.registry = registry
        self.capacity = capacity
        self.warm_rows = warm_rows
        self._models: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Key, threading.Lock] = {}

    def peek(self, name: str, version: int) -> LoadedModel | None:
        """The loaded version, or None; never loads (safe on the event loop)."""
        key = (name, version)
        with self._lock:
            loaded = self._models.get(key)
            if loaded is not None:
                self._models.move_to_end(key)
            return loaded

    def get(self, name: str, version: int) -> LoadedModel:
        """The loaded version, loading and warming it first if needed (blocks: call it off the event loop)."""
        key = (name, version)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            load_lock = self._loading.setdefault(key, threading.Lock())
        with load_lock:  # one load per key; loads of other models go on in parallel
            with self._lock:
                if key in self._models:
                    return self._models[key]
            loaded = load(self.registry, name, version, self.warm_rows)
            with self._lock:
                self._models[key] = loaded
                while len(self._models) > self.capacity:
                    self._models.popitem(last=False)
                self._loading.pop(key, None)
            return loaded

    def evict(self, name: str, version: int) -> None:
        with self._lock:
            self._models.pop((name, version), None)

    @property
    def loaded(self) -> list[Key]:
        with self._lock:
            return list(self._models)

    def describe(self) -> list[tuple[str, int, str]]:
        """(name, version, runtime) of each loaded version, for metrics."""
        with self._lock:
            return [(m.meta.name, m.meta.version, m.runtime) for m in self._models.values()]
