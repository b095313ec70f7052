"""Which Keras backend a job trains on, and how many steps Keras runs per call.

Importable without Keras: the worker reads it before a child imports Keras, because Keras fixes its backend
(`KERAS_BACKEND`) on first import and a process cannot switch afterwards.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

BackendName = Literal["auto", "tensorflow", "jax"]
Backend = Literal["tensorflow", "jax"]

#: Work (parameters x samples) one Keras call should carry under `steps_per_execution: "auto"`: about 10 ms
#: of compute on a CPU core, so that the per-call cost (dispatch, callbacks, metric syncs) stays a few percent.
AUTO_WORK_PER_CALL = 2**28
AUTO_MAX_STEPS = 256
#: Disk JAX may keep compiled programs in (oldest evicted first).
COMPILE_CACHE_BYTES = 2**30


def installed(backend: Backend) -> bool:
    return importlib.util.find_spec(backend) is not None


def default_backend(configured: BackendName = "auto") -> Backend:
    """`MAAS_KERAS_BACKEND` when set to a backend, else JAX where it is installed, else TensorFlow."""
    if configured != "auto":
        return configured
    return "jax" if installed("jax") else "tensorflow"


def resolve_backend(requested: BackendName, configured: BackendName = "auto", *, workers: int = 1) -> Backend:
    """The backend a job runs on. Data-parallel jobs (workers > 1) train on TensorFlow's distribution strategy."""
    if requested != "auto":
        return requested
    return "tensorflow" if workers > 1 else default_backend(configured)


def backend_of(spec: Mapping[str, Any], configured: BackendName = "auto", *, kind: str = "train") -> Backend:
    """The backend a stored job's child loads, read without validating the spec (nor importing Keras). Only
    training picks one: jobs that score a version do it through the serving runtimes, on TensorFlow."""
    if kind != "train":
        return "tensorflow"
    workers = int((spec.get("resources") or {}).get("workers", 1))
    return resolve_backend(spec.get("backend", "auto"), configured, workers=workers)


def use_backend(backend: Backend) -> None:
    """Make `backend` the one Keras loads; refuses once Keras is loaded with another."""
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        raise RuntimeError(f"Keras is already loaded with the {keras.backend.backend()} backend, not {backend}")
    os.environ["KERAS_BACKEND"] = backend


def use_compile_cache(directory: Path) -> None:
    """JAX keeps what XLA compiled on disk, so a job whose model and batch shapes were seen before (a rerun, a
    resumed job, a sweep's trials) starts training without compiling again (seconds per program on a CPU)."""
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(directory))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(COMPILE_CACHE_BYTES))


def auto_steps_per_execution(*, params: int, batch_size: int, steps_per_epoch: int) -> int:
    """Enough steps per call that a small model's call cost is amortised; never more than an epoch has."""
    steps = math.ceil(AUTO_WORK_PER_CALL / max(params * batch_size, 1))
    return max(1, min(steps, AUTO_MAX_STEPS, steps_per_epoch))
