"""Executors start a claimed job somewhere and hand back a handle to watch and stop it.

LocalExecutor runs each job in its own child process, started with the `spawn` context (TensorFlow is not
fork-safe). It keeps one child pre-started with Keras already imported, so a claimed job starts at once; that
child serves jobs on the default backend without GPUs, and any other job gets a fresh child started for its
backend and its share of the GPUs (app/worker/gpus.py), which a child cannot change once Keras is loaded. A job
of a light kind (profile, predict: app/worker/job_kinds.py) gets a fresh light child, which never imports Keras:
about a GB less memory than the warm child, and no TensorFlow import to wait for.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from app.jobs.store import JobStore
from app.settings import Settings
from app.training.backends import backend_of, default_backend
from app.worker.child import ChildProfile, child_main
from app.worker.gpus import GpuPool, visible_gpus
from app.worker.job_kinds import light_kind

log = logging.getLogger("maas.worker")


class JobHandle(Protocol):
    job_id: str

    @property
    def pid(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def exit_code(self) -> int | None: ...

    def kill(self) -> None: ...


class Executor(Protocol):
    def start(self, job_id: str) -> JobHandle: ...

    def idle(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection
    profile: ChildProfile
    job_id: str = ""

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.is_alive()

    def exit_code(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        """SIGKILL and reap: the job's memory is returned to the system at once."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()


class LocalExecutor:
    """One spawned child process per job on this machine."""

    def __init__(self, settings: Settings, store: JobStore | None = None) -> None:
        self._settings = settings
        self._store = store  # reads a claimed job's backend and GPUs; without it every job gets the spare's
        self._context = multiprocessing.get_context("spawn")
        self._spare: _Child | None = None
        self._gpus = GpuPool(visible_gpus())
        self._started: dict[str, _Child] = {}

    def _spawn(self, profile: ChildProfile) -> _Child:
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=child_main, args=(child_conn, self._settings, os.getpid(), profile), name="maas-job", daemon=True
        )
        process.start()
        child_conn.close()
        return _Child(process, parent_conn, profile)

    def _spare_profile(self) -> ChildProfile:
        return ChildProfile(default_backend(self._settings.keras_backend))

    def _profile(self, job_id: str) -> ChildProfile:
        if self._store is None:
            return self._spare_profile()
        job = self._store.read_job(job_id)
        self._started = {started: child for started, child in self._started.items() if child.is_alive()}
        gpus = self._gpus.take(job_id, float((job.spec.get("resources") or {}).get("gpus", 0)), self._started)
        backend = backend_of(job.spec, self._settings.keras_backend, kind=job.kind)
        return ChildProfile(backend, gpus, light=light_kind(job.kind))

    def idle(self) -> None:
        """Called when a slot is free: make sure a warm child is waiting."""
        if not self._settings.prewarm:
            return
        if self._spare is not None and not self._spare.is_alive():
            log.warning("pre-started child exited with code %s; starting another", self._spare.exit_code())
            self._spare = None
        if self._spare is None:
            self._spare = self._spawn(self._spare_profile())

    def start(self, job_id: str) -> _Child:
        profile = self._profile(job_id)
        child = self._hand_to_spare(job_id, profile) or self._spawn(profile)
        if not child.job_id:
            child.conn.send(job_id)
            child.job_id = job_id
        self._started[job_id] = child
        return child

    def _hand_to_spare(self, job_id: str, profile: ChildProfile) -> _Child | None:
        """The warm child, given `job_id`, if it was started for this profile (else it waits for another job)."""
        child = self._spare
        if child is None or child.profile != profile:
            return None
        self._spare = None
        try:
            child.conn.send(job_id)
        except OSError:
            child.kill()
            return None
        child.job_id = job_id
        return child

    def close(self) -> None:
        if self._spare is not None:
            self._spare.kill()
            self._spare = None
