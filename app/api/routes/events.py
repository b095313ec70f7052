"""Live job events: `GET /jobs/{id}/events` as Server-Sent Events.

A stream costs almost nothing while its job does not change: one poller per process (app/jobs/watch.py) reads a
small stamp of every followed job, and a stream reads the job row and its new epochs only when the stamp moved.
At most MAAS_MAX_EVENT_STREAMS are open per process; one more is a 429.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from app.api.problems import problem
from app.jobs.events import Epochs, events_after, parse_last_event_id, timeline
from app.jobs.schemas import Job
from app.jobs.store import JobStore
from app.jobs.watch import JobWatch, Stamp, read_epochs_from, read_stamps

router = APIRouter(tags=["training"])

KEEPALIVE_S = 15.0
RETRY_MS = 1000

STREAM_RESPONSES: dict[int | str, dict] = {
    200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
    204: {"description": "The job has ended and the client has had every event"},
    404: {"description": "No job with that id"},
    429: {"description": "MAAS_MAX_EVENT_STREAMS streams are open on this process already"},
}


class _Slot:
    """A taken stream slot, given back once, whichever of the stream's end or the response's end comes first."""

    def __init__(self, watch: JobWatch) -> None:
        self.watch, self.held = watch, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.watch.release()


def _watch(request: Request, store: JobStore) -> JobWatch:
    state = request.app.state
    if getattr(state, "job_watch", None) is None:
        state.job_watch = JobWatch(store.engine, max_streams=state.settings.max_event_streams)
    return state.job_watch


def _snapshot(store: JobStore, job_id: str) -> tuple[Stamp | None, Job, Epochs]:
    """The stamp first, then the job, then its epochs: a later change moves the stamp, and a job read as finished
    has all its epochs stored already."""
    stamp = read_stamps(store.engine, [job_id]).get(job_id)
    job = store.read_job(job_id)
    return stamp, job, store.read_epochs(job_id)


def _refresh(store: JobStore, job_id: str, epochs: Epochs, recorded: int) -> tuple[Job, Epochs]:
    """The job again and only the epochs it recorded since; all of them when some were dropped (a restart)."""
    job = store.read_job(job_id)
    if recorded < len(epochs):
        return job, store.read_epochs(job_id)
    return job, epochs + read_epochs_from(store.engine, job_id, len(epochs))


async def _stream(
    watch: JobWatch, store: JobStore, job_id: str, *, start: tuple[Stamp | None, Job, Epochs], cursor: int
) -> AsyncIterator[str]:
    seen, job, epochs = start
    quiet_until = time.monotonic() + KEEPALIVE_S
    yield f"retry: {RETRY_MS}\n\n"
    while True:
        for event in events_after(job, epochs, cursor):
            yield event.encode()
            cursor, quiet_until = event.id, time.monotonic() + KEEPALIVE_S
        if job.status.terminal:
            return
        stamp = await watch.wait_change(job_id, seen, max(0.0, quiet_until - time.monotonic()))
        if stamp is None:
            return  # the job was deleted
        if stamp != seen:
            seen, (job, epochs) = stamp, await watch.run(_refresh, store, job_id, epochs, stamp[-1])
        elif time.monotonic() >= quiet_until:
            yield ": keep-alive\n\n"
            quiet_until = time.monotonic() + KEEPALIVE_S


async def _held(stream: AsyncIterator[str], slot: _Slot) -> AsyncIterator[str]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        slot.release()


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def read_job_events(
    job_id: str, request: Request, last_event_id: Annotated[str | None, Header()] = None
) -> Response:
    """Follow a job live: `progress` per epoch, `status` on each change; ends after a terminal status.

    Event ids come from stored data (see `app.jobs.events`): `progress` of the p-th recorded epoch is `4p`,
    a status reached after p epochs is `4p+1` (queued), `4p+2` (running) or `4p+3` (terminal). A reconnect
    with `Last-Event-ID: N` gets exactly the events above N; 204 once the job has ended and N is its last.
    """
    try:
        cursor = parse_last_event_id(last_event_id)
    except ValueError:
        return problem(400, "Malformed request", "Last-Event-ID must be an event id from this stream", "bad_event_id")
    store: JobStore = request.app.state.store  # not StoreDep: a sync dependency would take a pool thread
    watch = _watch(request, store)
    if not watch.acquire():
        detail = f"{watch.max_streams} event streams are open on this server (MAAS_MAX_EVENT_STREAMS); retry later"
        return problem(429, "Too many event streams", detail, "too_many_streams")
    slot = _Slot(watch)
    try:
        start = await watch.run(_snapshot, store, job_id)
    except BaseException:
        slot.release()
        raise
    _, job, epochs = start
    if job.status.terminal and timeline(job, epochs)[-1].id <= cursor:
        slot.release()
        return Response(status_code=204)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    stream = _held(_stream(watch, store, job_id, start=start, cursor=cursor), slot)
    return StreamingResponse(
        stream, media_type="text/event-stream", headers=headers, background=BackgroundTask(slot.release)
    )
