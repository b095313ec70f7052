"""Predictor: an LRU cache of loaded model versions, each called through one compiled inference function.

`model.predict` costs ~100 ms per call in setup alone; a `tf.function` with a fixed input signature costs ~1 ms,
so every loaded version gets one, traced and warmed once at load. Keras and TensorFlow are imported on first
use, so the API process starts fast and imports them only when it first serves a model.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.registry import LocalRegistry, ModelVersion

Key = tuple[str, int]


@dataclass
class LoadedModel:
    meta: ModelVersion
    infer: Callable[[np.ndarray], np.ndarray]


def _load(registry: LocalRegistry, name: str, version: int) -> LoadedModel:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    meta = registry.read_version(name, version)
    model = keras.saving.load_model(registry.artifact_path(name, version), compile=False, safe_mode=True)
    signature = tf.TensorSpec([None, *meta.input_shape[1:]], tf.float32)
    compiled = tf.function(lambda x: model(x, training=False), input_signature=[signature])

    def infer(batch: np.ndarray) -> np.ndarray:
        return np.asarray(compiled(batch))

    infer(np.zeros((1, *meta.input_shape[1:]), dtype=np.float32))  # trace and warm up now, not on a request
    return LoadedModel(meta, infer)


class Predictor:
    """Loads each (name, version) once; keeps the `capacity` most recently used."""

    def __init__(self, registry: LocalRegistry, capacity: int) -> None:
        self.registry = registry
        self.capacity = capacity
        self._models: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Key, threading.Lock] = {}

    def get(self, name: str, version: int) -> LoadedModel:
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
            loaded = _load(self.registry, name, version)
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
