"""The supervisor: claims queued jobs into free slots, heartbeats them, stops cancelled or overdue ones,
retries jobs whose process died, and requeues jobs whose worker died.

It holds no SQL (that is the JobStore's) and never trains (its executor's children do). The same class runs
embedded in `maas serve` (in a thread) and standalone in `maas worker` (in the main thread).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.jobs.schemas import Job, JobError, JobStatus
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.driver import SweepDriver
from app.sweeps.store import SweepStore
from app.worker.executors import Executor, JobHandle, LocalExecutor

log = logging.getLogger("maas.worker")


@dataclass
class Running:
    """A job this worker runs: its process handle, when it must be done by, and its attempt count."""

    handle: JobHandle
    deadline: float | None
    limit_s: float | None
    attempts: int
    max_retries: int


class Supervisor:
    def __init__(
        self, settings: Settings, store: JobStore, sweeps: SweepStore, *, executor: Executor | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.slots = max(settings.workers, 1)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if executor is None and settings.executor == "ray":
            from app.worker.ray.executor import RayExecutor  # imports Ray, only when it is asked for

            executor = RayExecutor(settings, store)
        self.executor = executor or LocalExecutor(settings, store)
        self.running: dict[str, Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat = 0.0
        self._last_stale_check = 0.0
        self.sweeps = SweepDriver(settings, store, sweeps)

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
        """Stop claiming; give running jobs MAAS_SHUTDOWN_GRACE_S to finish, then stop them and put them back
        in the queue, where they resume from their last epoch checkpoint on the next worker."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        while self.running and time.monotonic() < deadline:
            self.store.heartbeat(self.running, self.worker_id)
            self._reap()
            self._stop_cancelled()
            time.sleep(0.2)
        for job_id, running in list(self.running.items()):
            running.handle.kill()
            if self.store.requeue(job_id, self.worker_id):
                log.info("job %s requeued at shutdown; it resumes from its last checkpoint", job_id)
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
        self._stop_overdue()
        now = time.monotonic()
        if now - self._last_heartbeat >= self.settings.heartbeat_interval_s:
            self.store.heartbeat(self.running, self.worker_id)
            self._last_heartbeat = now
        if now - self._last_stale_check >= self.settings.heartbeat_interval_s:
            cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.stale_after_s)
            requeued, failed = self.store.requeue_stale(cutoff)
            for job_id in requeued:
                log.warning("job %s had a stale heartbeat (its worker died) and was requeued", job_id)
            for job_id in failed:
                log.error("job %s had a stale heartbeat and no retries left: failed", job_id)
            self._last_stale_check = now
        self.sweeps.advance_all()
        return self._fill_slots()

    def _fill_slots(self) -> int:
        claimed = 0
        while len(self.running) < self.slots and not self._stop.is_set():
            job = self.store.claim_next(self.worker_id)
            if job is None:
                break
            self._start(job)
            claimed += 1
        if len(self.running) < self.slots:
            self.executor.idle()
        return claimed

    def _start(self, job: Job) -> None:
        previous = self.running.pop(job.id, None)
        if previous is not None:  # its child gave the job back (app/jobs/runs.py retry_later) and is exiting
            previous.handle.kill()
        limits = [s for s in (self.settings.job_timeout_s, job.spec.get("max_runtime_s")) if s]
        limit = min(limits) if limits else None
        handle = self.executor.start(job.id)
        deadline = time.monotonic() + limit if limit else None
        retries = job.spec.get("max_retries", self.settings.max_retries)
        self.running[job.id] = Running(handle, deadline, limit, job.attempts, retries)
        if handle.pid is not None:
            self.store.set_worker_pid(job.id, handle.pid)
        log.info("job %s started in process %s (attempt %d)", job.id, handle.pid, job.attempts)

    def _reap(self) -> None:
        """Children that exited: if one died without recording an outcome, retry its job or fail it."""
        for job_id, running in list(self.running.items()):
            if running.handle.is_alive():
                continue
            del self.running[job_id]
            running.handle.kill()
            code = running.handle.exit_code()
            if running.attempts <= running.max_retries and self.store.requeue(job_id, self.worker_id):
                log.error(
                    "job %s: process exited with code %s; retrying (attempt %d of %d)",
                    job_id,
                    code,
                    running.attempts + 1,
                    running.max_retries + 1,
                )
                continue
            error = JobError(type="WorkerCrashed", message=f"the job's process exited with code {code}")
            if self.store.runs.fail(job_id, self.worker_id, error):
                log.error("job %s: process exited with code %s; no retries left", job_id, code)
                self._forget_checkpoints(job_id)

    def _stop_cancelled(self) -> None:
        """Kill children whose job was cancelled, or requeued and claimed by another worker."""
        for job_id, claim in self.store.claims(self.running).items():
            if claim.status != JobStatus.RUNNING or claim.worker_id != self.worker_id:
                self.running.pop(job_id).handle.kill()
                log.info("job %s is %s under %s; its process was stopped", job_id, claim.status, claim.worker_id)
                if claim.status == JobStatus.CANCELLED:
                    self._forget_checkpoints(job_id)

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for job_id, running in list(self.running.items()):
            if running.deadline is None or now < running.deadline:
                continue
            del self.running[job_id]
            running.handle.kill()
            message = f"the job ran longer than its limit of {running.limit_s:g} s and was stopped"
            if self.store.runs.fail(job_id, self.worker_id, JobError(type="Timeout", message=message)):
                log.warning("job %s: %s", job_id, message)
                self._forget_checkpoints(job_id)

    def _forget_checkpoints(self, job_id: str) -> None:
        shutil.rmtree(self.settings.jobs_dir / job_id / "checkpoints", ignore_errors=True)
