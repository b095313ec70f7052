"""Executors start a claimed job somewhere and hand back a handle to watch and stop it.

LocalExecutor runs each job in its own child process, started with the `spawn` context (TensorFlow is not
fork-safe). It keeps one child pre-started with Keras already imported, so a claimed job starts at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from app.settings import Settings
from app.worker.child import child_main

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

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._spare: _Child | None = None

    def _spawn(self) -> _Child:
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=child_main, args=(child_conn, self._settings, os.getpid()), name="maas-job", daemon=True
        )
        process.start()
        child_conn.close()
        return _Child(process, parent_conn)

    def idle(self) -> None:
        """Called when a slot is free: make sure a warm child is waiting."""
        if not self._settings.prewarm:
            return
        if self._spare is not None and not self._spare.is_alive():
            log.warning("pre-started child exited with code %s; starting another", self._spare.exit_code())
            self._spare = None
        if self._spare is None:
            self._spare = self._spawn()

    def start(self, job_id: str) -> _Child:
        child, self._spare = self._spare, None
        if child is not None:
            try:
                child.conn.send(job_id)
                child.job_id = job_id
                return child
            except OSError:
                child.kill()
        child = self._spawn()
        child.conn.send(job_id)
        child.job_id = job_id
        return child

    def close(self) -> None:
        if self._spare is not None:
            self._spare.kill()
            self._spare = None
