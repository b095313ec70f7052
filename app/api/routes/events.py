"""Live job events: `GET /jobs/{id}/events` as Server-Sent Events, polled from the job store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import StoreDep
from app.api.problems import problem
from app.errors import JobNotFound
from app.jobs.events import Epochs, events_after, parse_last_event_id, timeline
from app.jobs.schemas import Job
from app.jobs.store import JobStore

router = APIRouter(tags=["training"])

POLL_S = 0.25
KEEPALIVE_S = 15.0
RETRY_MS = 1000

STREAM_RESPONSES: dict[int | str, dict] = {
    200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
    204: {"description": "The job has ended and the client has had every event"},
    404: {"description": "No job with that id"},
}


def _snapshot(store: JobStore, job_id: str) -> tuple[Job, Epochs]:
    """The job first, then its epochs: a job read as finished has all its epochs stored already."""
    job = store.read_job(job_id)
    return job, store.read_epochs(job_id)


async def _stream(store: JobStore, job_id: str, cursor: int) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    quiet = 0.0
    while True:
        try:
            job, epochs = await run_in_threadpool(_snapshot, store, job_id)
        except JobNotFound:
            return
        for event in events_after(job, epochs, cursor):
            yield event.encode()
            cursor, quiet = event.id, 0.0
        if job.status.terminal:
            return
        if quiet >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await anyio.sleep(POLL_S)
        quiet += POLL_S


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def read_job_events(
    job_id: str, store: StoreDep, last_event_id: Annotated[str | None, Header()] = None
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
    job, epochs = await run_in_threadpool(_snapshot, store, job_id)
    if job.status.terminal and timeline(job, epochs)[-1].id <= cursor:
        return Response(status_code=204)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(store, job_id, cursor), media_type="text/event-stream", headers=headers)
