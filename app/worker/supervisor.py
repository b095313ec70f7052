"""The supervisor: claims queued jobs into free slots, heartbeats them, stops cancelled ones, requeues stale ones.

It holds no SQL (that is the JobStore's) and never trains (its executor's children do). The same class runs
embedded in `maas serve` (in a thread) and standalone in `maas worker` (in the main thread).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from app.jobs.models import JobError, JobStatus
from app.jobs.store import JobStore
from app.settings import Settings
from app.worker.executors import Executor, JobHandle, LocalExecutor

log = logging.getLogger("maas.worker")


class Supervisor:
    def __init__(self, settings: Settings, store: JobStore, executor: Executor | None = None) -> None:
        self.settings = settings
        self.store = store
        self.slots = max(settings.workers, 1)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.executor = executor or LocalExecutor(settings)
        self.running: dict[str, JobHandle] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat = 0.0
        self._last_stale_check = 0.0

    # --- lifecycle ------------------------------------------------------------------------------------

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, name="maas-supervisor", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """A job was just queued here: look now rather than at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the loop to return after its current round (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; kill running children and put their jobs back in the queue for another worker."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for job_id, handle in list(self.running.items()):
            handle.kill()
            if self.store.requeue(job_id, self.worker_id):
                log.info("job %s requeued at shutdown", job_id)
        self.running.clear()
        self.executor.close()

    def run(self, burst: bool = False) -> None:
        """Loop until stopped; in burst mode, return once nothing is queued or running."""
        log.info("worker %s started with %d slot(s)", self.worker_id, self.slots)
        while not self._stop.is_set():
            try:
                claimed = self.tick()
            except Exception:  # a database hiccup must not kill the supervisor
                log.exception("supervisor tick failed")
                claimed = 0
            if burst and not claimed and not self.running:
                break
            if not claimed:
                self._wake.wait(self.settings.poll_interval_s)
                self._wake.clear()

    # --- one round ------------------------------------------------------------------------------------

    def tick(self) -> int:
        """One round of bookkeeping; returns how many jobs were claimed."""
        self._reap()
        self._stop_cancelled()
        now = time.monotonic()
        if now - self._last_heartbeat >= self.settings.heartbeat_interval_s:
            self.store.heartbeat(self.running, self.worker_id)
            self._last_heartbeat = now
        if now - self._last_stale_check >= self.settings.heartbeat_interval_s:
            cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.stale_after_s)
            for job_id in self.store.requeue_stale(cutoff):
                log.warning("job %s had a stale heartbeat and was requeued", job_id)
            self._last_stale_check = now
        return self._fill_slots()

    def _fill_slots(self) -> int:
        claimed = 0
        while len(self.running) < self.slots and not self._stop.is_set():
            job = self.store.claim_next(self.worker_id)
            if job is None:
                break
            handle = self.executor.start(job.id)
            self.running[job.id] = handle
            if handle.pid is not None:
                self.store.set_worker_pid(job.id, handle.pid)
            log.info("job %s started in process %s", job.id, handle.pid)
            claimed += 1
        if len(self.running) < self.slots:
            self.executor.idle()
        return claimed

    def _reap(self) -> None:
        for job_id, handle in list(self.running.items()):
            if handle.is_alive():
                continue
            del self.running[job_id]
            handle.kill()
            code = handle.exit_code()
            error = JobError(type="WorkerCrashed", message=f"the job's process exited with code {code}")
            if self.store.fail(job_id, self.worker_id, error):  # only when the child did not record an outcome itself
                log.error("job %s: process exited with code %s before finishing", job_id, code)

    def _stop_cancelled(self) -> None:
        """Kill children whose job was cancelled, or requeued and claimed by another worker."""
        for job_id, claim in self.store.claims(self.running).items():
            if claim.status != JobStatus.RUNNING or claim.worker_id != self.worker_id:
                self.running.pop(job_id).kill()
                log.info("job %s is %s under %s; its process was stopped", job_id, claim.status, claim.worker_id)
