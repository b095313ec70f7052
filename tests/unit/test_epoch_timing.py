"""Epoch timing is data: each recorded epoch keeps its duration, the job shows them per epoch of the published
model and the latest epoch's samples per second; a database made before epochs were timed gains the column."""

from __future__ import annotations

import sqlalchemy as sa

from app.jobs.events import timeline
from app.jobs.store import JobStore
from tests.unit.test_store import claim, make_job


def test_each_epoch_keeps_its_seconds_and_progress_shows_the_latest_rate(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9}, seconds=4.0, samples=1000)
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.8}, fold=1, folds=2, seconds=9.0)
    store.runs.record_epoch(job.id, "worker-1", epoch=2, epochs=3, metrics={"loss": 0.5}, seconds=2.0, samples=1000)

    read = store.read_job(job.id)
    assert read.metrics.epoch_seconds == [4.0, 2.0], "the published model's epochs only, in order"
    assert read.progress.samples_per_second == 500.0


def test_every_progress_event_carries_its_own_epochs_rate(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)
    for epoch, seconds in ((1, 4.0), (2, 2.0)):
        store.runs.record_epoch(job.id, "worker-1", epoch=epoch, epochs=3, metrics={}, seconds=seconds, samples=1000)
    store.runs.record_epoch(job.id, "worker-1", epoch=3, epochs=3, metrics={})

    events = timeline(store.read_job(job.id), store.read_epochs(job.id))
    rates = [e.data.get("samples_per_second") for e in events if e.event == "progress"]
    assert rates == [250.0, 500.0, None], "stored with each epoch, so a replay after Last-Event-ID says the same"


def test_an_untimed_epoch_is_null_and_progress_has_no_rate(store: JobStore) -> None:
    job = make_job(store, epochs=2)
    claim(store)
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=2, metrics={"loss": 0.9})

    read = store.read_job(job.id)
    assert read.metrics.epoch_seconds == [None]
    assert "samples_per_second" not in read.progress.model_dump(), "a training job's progress keeps its fields"


def test_a_database_from_before_epoch_timing_gains_the_column(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:  # the job_epoch table as it was made before epochs were timed
        conn.execute(sa.text("CREATE TABLE job_epoch (job_id VARCHAR(36), fold INTEGER, epoch INTEGER, metrics JSON)"))
    engine.dispose()
    store = JobStore(database_url)
    try:
        job = make_job(store, epochs=1)
        claim(store)
        store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=1, metrics={"loss": 0.1}, seconds=1.5, samples=3)
        assert store.read_job(job.id).metrics.epoch_seconds == [1.5]
    finally:
        store.close()
