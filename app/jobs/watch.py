"""Cheap change detection for event streams: one query per tick for every followed job, off the shared pool.

A stream waits on its job's asyncio.Event; a single poller per process reads a small stamp of each followed
job (status, attempts, start and end, epoch count) and wakes only the streams whose job changed. Reads run on
this module's own few threads, so open streams never hold the thread pool that serves other routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select

from app.jobs.events import Epochs
from app.jobs.rows import samples_per_second
from app.jobs.tables import MAIN_FOLD, job, job_epoch

T = TypeVar("T")
Stamp = tuple[Any, ...]
POLL_S = 0.25


def read_stamps(engine: Engine, job_ids: list[str]) -> dict[str, Stamp]:
    """What changes when a job has a new event: its status, attempt, times and the epochs recorded."""
    count = select(func.count()).where(job_epoch.c.job_id == job.c.id).scalar_subquery()
    query = select(job.c.id, job.c.status, job.c.attempts, job.c.started_at, job.c.finished_at, count)
    with engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(query.where(job.c.id.in_(job_ids)))}


def read_epochs_from(engine: Engine, job_id: str, offset: int) -> Epochs:
    """The job's epochs past the first `offset`, in JobStore.read_epochs' order (new ones come last)."""
    columns = (job_epoch.c.fold, job_epoch.c.epoch, job_epoch.c.metrics, job_epoch.c.seconds, job_epoch.c.samples)
    query = (
        select(*columns)
        .where(job_epoch.c.job_id == job_id)
        .order_by((job_epoch.c.fold == MAIN_FOLD).asc(), job_epoch.c.fold, job_epoch.c.epoch)
        .offset(offset)
    )
    with engine.connect() as conn:
        rows = conn.execute(query)
        return [(fold or None, epoch, metrics, samples_per_second(took, n)) for fold, epoch, metrics, took, n in rows]


class JobWatch:
    """Open streams (at most `max_streams`) and the poller that wakes them when their job changes."""

    def __init__(self, engine: Engine, *, max_streams: int) -> None:
        self.engine, self.max_streams, self.open = engine, max_streams, 0
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="maas-events")
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._stamps: dict[str, Stamp | None] = {}
        self._poller: asyncio.Task[None] | None = None

    def acquire(self) -> bool:
        """Take a stream slot (on the event loop, so check and count are one step); False when all are taken."""
        if self.open >= self.max_streams:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def wait_change(self, job_id: str, seen: Stamp | None, timeout: float) -> Stamp | None:
        """The job's stamp once it differs from `seen` (None: the job is gone), or `seen` after `timeout`."""
        if job_id in self._stamps and self._stamps[job_id] != seen:
            return self._stamps[job_id]
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return seen
        finally:
            self._forget(job_id, event)
        return self._stamps.get(job_id, seen)

    def _forget(self, job_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(job_id, set())
        waiters.discard(event)
        if not waiters:
            self._waiters.pop(job_id, None)

    async def _poll(self) -> None:
        while self._waiters:
            ids = list(self._waiters)
            stamps = await self.run(read_stamps, self.engine, ids)
            before, self._stamps = self._stamps, {job_id: stamps.get(job_id) for job_id in ids}
            for job_id in ids:
                if job_id not in before or before[job_id] != self._stamps[job_id]:
                    for event in self._waiters.get(job_id, ()):
                        event.set()
            await asyncio.sleep(POLL_S)
