"""`GET /jobs/{id}/events`: a job's life as Server-Sent Events, from a real job store seeded the way a worker
writes it (claim, epochs, outcome), read through the real app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.routes import events as events_route
from app.client.sse import Event, iter_events
from app.jobs import watch as job_watch
from app.jobs.schemas import JobError, ModelRef
from app.jobs.store import JobStore
from app.settings import Settings
from tests.support import iris_spec

WORKER = "worker-1"


@pytest.fixture
def store(client: TestClient, settings: Settings) -> Iterator[JobStore]:
    """A second handle on the app's database: what a worker process would hold."""
    handle = JobStore(settings.resolved_database_url)
    yield handle
    handle.close()


def metrics(epoch: int) -> dict[str, float]:
    return {"loss": round(1.0 / epoch, 4), "accuracy": round(0.5 + epoch / 100, 4)}


def running_job(store: JobStore, epochs: int = 3, **spec: Any) -> str:
    job = store.create_job("iris-mlp", iris_spec(epochs, **spec), epochs=epochs)
    assert store.claim_next(WORKER).id == job.id
    store.runs.start_attempt(job.id, WORKER, epochs)
    return job.id


def finished_job(store: JobStore, epochs: int = 3) -> str:
    job_id = running_job(store, epochs)
    for epoch in range(1, epochs + 1):
        store.runs.record_epoch(job_id, WORKER, epoch=epoch, epochs=epochs, metrics=metrics(epoch))
    store.runs.succeed(job_id, WORKER, model=ModelRef(name="iris-mlp", version=1), final=metrics(epochs))
    return job_id


def read_events(client: TestClient, job_id: str, last_event_id: str | None = None) -> list[Event]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/jobs/{job_id}/events", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return list(iter_events(response.text.splitlines()))


def test_a_finished_job_replays_its_life_in_order_and_the_stream_ends(client: TestClient, store: JobStore) -> None:
    job_id = finished_job(store, epochs=3)

    events = read_events(client, job_id)

    assert [(e.event, e.data.get("status") or e.data.get("epoch")) for e in events] == [
        ("status", "queued"),
        ("status", "running"),
        ("progress", 1),
        ("progress", 2),
        ("progress", 3),
        ("status", "succeeded"),
    ]
    assert [int(e.id) for e in events] == [1, 2, 4, 8, 12, 15]
    assert events[2].data == {"epoch": 1, "epochs": 3, "fold": None, "folds": None, "metrics": metrics(1)}
    assert events[-1].data["model"] == {"name": "iris-mlp", "version": 1}
    assert events[-1].data["error"] is None


def test_reconnecting_with_last_event_id_continues_without_gaps_or_repeats(client: TestClient, store: JobStore) -> None:
    job_id = finished_job(store, epochs=4)
    everything = read_events(client, job_id)

    for cut, last_seen in enumerate(everything[:-1], start=1):
        rest = read_events(client, job_id, last_event_id=last_seen.id)
        assert everything[:cut] + rest == everything

    after_the_end = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": everything[-1].id})
    assert after_the_end.status_code == 204


def test_a_live_stream_carries_epochs_recorded_after_it_opened_then_ends(
    client: TestClient, store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker writes each step only after the stream's poller has looked again, so every step is seen live."""
    polls = threading.Condition()
    count = [0]
    read_stamps = job_watch.read_stamps

    def counted_read_stamps(*args: Any) -> Any:
        result = read_stamps(*args)
        with polls:
            count[0] += 1
            polls.notify_all()
        return result

    monkeypatch.setattr(job_watch, "read_stamps", counted_read_stamps)
    monkeypatch.setattr(job_watch, "POLL_S", 0.01)
    monkeypatch.setattr(events_route, "KEEPALIVE_S", 0.02)  # a comment after every quiet stretch
    job_id = running_job(store, epochs=3)

    def after_next_poll(write: Any) -> None:
        with polls:
            seen = count[0]
            polls.wait_for(lambda: count[0] > seen + 1, timeout=30)
        write()

    def worker() -> None:
        for epoch in range(1, 4):
            after_next_poll(
                lambda epoch=epoch: store.runs.record_epoch(
                    job_id, WORKER, epoch=epoch, epochs=3, metrics=metrics(epoch)
                )
            )
        after_next_poll(
            lambda: store.runs.succeed(job_id, WORKER, model=ModelRef(name="iris-mlp", version=1), final=metrics(3))
        )

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        response = client.get(f"/jobs/{job_id}/events")
    finally:
        thread.join()

    events = list(iter_events(response.text.splitlines()))
    assert [e.data.get("epoch") for e in events if e.event == "progress"] == [1, 2, 3]
    assert events[-1].event == "status" and events[-1].data["status"] == "succeeded"
    assert ": keep-alive" in response.text
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids))


def test_cross_validation_epochs_come_fold_by_fold_then_the_final_model(client: TestClient, store: JobStore) -> None:
    job_id = running_job(store, epochs=2, cross_validation={"folds": 2, "stratified": True})
    for fold in (1, 2):
        for epoch in (1, 2):
            store.runs.record_epoch(job_id, WORKER, epoch=epoch, epochs=2, metrics=metrics(epoch), fold=fold, folds=2)
    for epoch in (1, 2, 3):
        store.runs.record_epoch(job_id, WORKER, epoch=epoch, epochs=3, metrics=metrics(epoch), fold=None, folds=2)
    store.runs.succeed(job_id, WORKER, model=ModelRef(name="iris-mlp", version=1), final=metrics(3))

    progress = [e.data for e in read_events(client, job_id) if e.event == "progress"]

    assert [(p["fold"], p["epoch"], p["epochs"], p["folds"]) for p in progress] == [
        (1, 1, 2, 2),
        (1, 2, 2, 2),
        (2, 1, 2, 2),
        (2, 2, 2, 2),
        (None, 1, 3, 2),
        (None, 2, 3, 2),
        (None, 3, 3, 2),
    ]


def test_a_failed_job_ends_with_its_error(client: TestClient, store: JobStore) -> None:
    job_id = running_job(store, epochs=5)
    store.runs.record_epoch(job_id, WORKER, epoch=1, epochs=5, metrics={"loss": None})
    store.runs.fail(job_id, WORKER, JobError(type="FloatingPointError", message="the loss became NaN"))

    events = read_events(client, job_id)

    assert events[-1].event == "status"
    assert events[-1].data["status"] == "failed"
    assert events[-1].data["error"] == {"type": "FloatingPointError", "message": "the loss became NaN"}
    assert [e.data["metrics"] for e in events if e.event == "progress"] == [{"loss": None}]


def test_a_job_cancelled_while_queued_reads_queued_then_cancelled(client: TestClient, store: JobStore) -> None:
    job = store.create_job("iris-mlp", iris_spec(3), epochs=3)
    store.cancel(job.id)

    events = read_events(client, job.id)

    assert [(e.id, e.data["status"]) for e in events] == [("1", "queued"), ("3", "cancelled")]


def test_unknown_job_is_a_404_problem_before_any_stream(client: TestClient) -> None:
    response = client.get("/jobs/no-such-job/events")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "job_not_found"


def test_a_last_event_id_that_is_not_ours_is_a_400_problem(client: TestClient, store: JobStore) -> None:
    job_id = finished_job(store, epochs=1)

    response = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
