"""The delivery loop, on the API's event loop: turns finished jobs into events, then posts every due delivery,
signed, retrying a failed one with exponential backoff until MAAS_WEBHOOK_RETRY_HOURS after its event."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from app.errors import Invalid
from app.jobs.engine import utcnow
from app.webhooks.jobs import finished_since
from app.webhooks.schemas import Attempt
from app.webhooks.signing import HEADER, signature
from app.webhooks.store import Due, WebhookStore
from app.webhooks.targets import check_target

log = logging.getLogger("maas.webhooks")
JOBS_CURSOR = "jobs"
MAX_BACKOFF = timedelta(hours=1)


class Dispatcher:
    def __init__(
        self,
        store: WebhookStore,
        *,
        allowed_hosts: frozenset[str],
        retry_hours: float,
        backoff_s: float,
        poll_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store, self.allowed_hosts, self.clock = store, allowed_hosts, clock
        self.retry = timedelta(hours=retry_hours)
        self.backoff = timedelta(seconds=backoff_s)
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """Deliver now rather than at the next poll; callable from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def emit(self, event_type: str, data: dict[str, object]) -> None:
        """Record an event for its subscribers (blocking: a database write) and wake the loop."""
        self.store.emit(event_type, data)
        self.wake()

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
            while True:
                try:
                    await asyncio.to_thread(self._poll_jobs)
                    for due in await asyncio.to_thread(self.store.due, self.clock()):
                        await self._deliver(client, due)
                    wait = await asyncio.to_thread(self._wait_s)
                except Exception:  # the store is down for a moment: try again at the next poll
                    log.warning("webhook delivery round failed", exc_info=True)
                    wait = self.poll_s
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                except TimeoutError:
                    pass

    def _poll_jobs(self) -> None:
        since = self.store.cursor(JOBS_CURSOR)
        if since is None:  # first start: only jobs that finish from now on
            self.store.move_cursor(JOBS_CURSOR, self.clock())
            return
        events, cursor = finished_since(self.store.engine, since)
        for event in events:
            self.store.emit(event.type, event.data, event_id=event.id)
        if cursor != since:
            self.store.move_cursor(JOBS_CURSOR, cursor)

    def _wait_s(self) -> float:
        """Until the next poll, or sooner when a retry falls due before it."""
        due = self.store.next_due()
        if due is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, (due - self.clock()).total_seconds()))

    async def _deliver(self, client: httpx.AsyncClient, due: Due) -> None:
        body = json.dumps(due.event, separators=(",", ":")).encode()
        now = self.clock()
        attempt = Attempt(at=now)
        try:
            check_target(due.url, self.allowed_hosts)  # MAAS_WEBHOOK_HOSTS may have shrunk since it was made
            response = await client.post(due.url, content=body, headers=self._headers(due, body, now))
            attempt.status_code, attempt.response = response.status_code, response.text[:500]
        except (httpx.HTTPError, Invalid) as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"[:500]
        delivered = attempt.status_code is not None and 200 <= attempt.status_code < 300
        await asyncio.to_thread(self._record, due, attempt, delivered)

    def _headers(self, due: Due, body: bytes, now: datetime) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            HEADER: signature(due.secret, body, int(now.timestamp())),
            "Maas-Event": due.event["type"],
            "Maas-Delivery": due.id,
        }

    def _record(self, due: Due, attempt: Attempt, delivered: bool) -> None:
        if delivered:
            self.store.record(due, attempt, status="delivered", next_at=None)
            return
        delay = min(self.backoff * 2 ** len(due.attempts), MAX_BACKOFF)
        next_at = attempt.at + delay
        if next_at > due.created_at + self.retry:
            self.store.record(due, attempt, status="failed", next_at=None)
        else:
            self.store.record(due, attempt, status="pending", next_at=next_at)
