"""A real job's event stream, through a real `maas serve`: every epoch in order, then the end; and a stream cut
mid-job and resumed with Last-Event-ID reads exactly what an unbroken one does."""

from __future__ import annotations

import httpx

from app.client.sse import Event, iter_events
from tests.e2e.server import Server
from tests.support import iris_spec


def stream(server: Server, job_id: str, last_event_id: str | None = None, stop_after: int | None = None) -> list[Event]:
    """The events of one connection; with `stop_after`, hang up after that many events."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[Event] = []
    with httpx.stream("GET", f"{server.url}/jobs/{job_id}/events", headers=headers, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in iter_events(response.iter_lines()):
            events.append(event)
            if len(events) == stop_after:
                break
    return events


def test_a_real_jobs_stream_carries_every_epoch_in_order_and_ends(server: Server) -> None:
    job = server.train(iris_spec(4, model_name="iris-events"))

    events = stream(server, job["id"])  # returns only because the server ends the stream

    statuses = [e.data["status"] for e in events if e.event == "status"]
    progress = [e.data for e in events if e.event == "progress"]
    assert statuses == ["queued", "running", "succeeded"]
    assert [(p["epoch"], p["epochs"]) for p in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert events[-1].data["model"] == {"name": "iris-events", "version": 1}
    history = server.job(job["id"])["metrics"]["history"]
    assert [p["metrics"]["loss"] for p in progress] == history["loss"]
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids))


def test_a_stream_resumed_with_last_event_id_misses_and_repeats_nothing(server: Server) -> None:
    spec = iris_spec(3, model_name="iris-resume", cross_validation={"folds": 2, "stratified": True})
    job = server.train(spec)

    first = stream(server, job["id"], stop_after=4)
    rest = stream(server, job["id"], last_event_id=first[-1].id)
    replay = stream(server, job["id"])

    assert first + rest == replay
    folds = [e.data["fold"] for e in replay if e.event == "progress"]
    assert folds[:6] == [1, 1, 1, 2, 2, 2] and set(folds[6:]) == {None}
    assert replay[-1].data["status"] == "succeeded"
