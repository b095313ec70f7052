"""JobStore on real SQLite files: job rows, compare-and-set claims across processes, heartbeats, history, cancel."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from app.errors import ClaimLost, JobNotFound
from app.jobs.schemas import Job, JobError, JobStatus, ModelRef
from app.jobs.store import Claim, JobStore

PROCESS_TIMEOUT_S = 60


def make_job(store: JobStore, model_name: str = "iris", epochs: int = 3, max_retries: int = 3) -> Job:
    spec: dict[str, Any] = {"model_name": model_name, "dataset": {"builtin": "iris"}, "fit": {"epochs": epochs}}
    return store.create_job(model_name, spec, epochs=epochs, max_retries=max_retries)


def claim(store: JobStore, worker_id: str = "worker-1") -> Job:
    job = store.claim_next(worker_id)
    assert job is not None
    return job


# --- creating and reading -------------------------------------------------------------------------------


def test_create_job_is_queued_and_reads_back(store: JobStore) -> None:
    created = make_job(store, "iris", epochs=5)

    job = store.read_job(created.id)

    assert job == created
    assert job.status is JobStatus.QUEUED
    assert job.model_name == "iris"
    assert job.spec["dataset"] == {"builtin": "iris"}
    assert job.progress.epoch == 0 and job.progress.epochs == 5
    assert job.attempts == 0 and job.worker is None and job.model is None
    assert job.created_at.tzinfo is not None


def test_read_unknown_job_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.read_job("no-such-job")


def test_cancel_unknown_job_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.cancel("no-such-job")


def test_read_jobs_lists_newest_first(store: JobStore) -> None:
    ids = [make_job(store).id for _ in range(3)]

    assert [j.id for j in store.read_jobs()] == ids[::-1]


def test_read_jobs_filters_by_status_and_model_name(store: JobStore) -> None:
    first_iris = make_job(store, "iris")
    digits = make_job(store, "digits")
    second_iris = make_job(store, "iris")
    assert claim(store).id == first_iris.id

    assert [j.id for j in store.read_jobs(status=JobStatus.QUEUED)] == [second_iris.id, digits.id]
    assert [j.id for j in store.read_jobs(status=JobStatus.RUNNING)] == [first_iris.id]
    assert [j.id for j in store.read_jobs(model_name="iris")] == [second_iris.id, first_iris.id]
    assert [j.id for j in store.read_jobs(status=JobStatus.QUEUED, model_name="iris")] == [second_iris.id]
    assert store.read_jobs(model_name="wine") == []


def test_read_jobs_pages_with_limit_and_offset(store: JobStore) -> None:
    newest_first = [make_job(store).id for _ in range(5)][::-1]

    assert [j.id for j in store.read_jobs(limit=2)] == newest_first[:2]
    assert [j.id for j in store.read_jobs(limit=2, offset=2)] == newest_first[2:4]
    assert [j.id for j in store.read_jobs(limit=2, offset=4)] == newest_first[4:]
    assert store.read_jobs(limit=2, offset=5) == []


# Known app bug: `dict(rows)` on a CursorResult calls rows.keys() (the column names) and then rows["status"].
def test_jobs_survive_a_store_restart(database_url: str) -> None:
    before = JobStore(database_url)
    running = make_job(before, "iris")
    queued = make_job(before, "digits")
    claim(before, "worker-1")
    before.runs.record_epoch(running.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.5})
    before.close()

    after = JobStore(database_url)
    try:
        assert {j.id for j in after.read_jobs()} == {running.id, queued.id}
        reread = after.read_job(running.id)
        assert reread.status is JobStatus.RUNNING
        assert reread.worker is not None and reread.worker.id == "worker-1"
        assert reread.metrics.history == {"loss": [0.5]}
        assert after.read_job(queued.id) == queued
    finally:
        after.close()


# --- claiming -------------------------------------------------------------------------------------------


def test_claim_next_takes_the_oldest_queued_job(store: JobStore) -> None:
    oldest = make_job(store)
    make_job(store)

    job = claim(store, "worker-7")

    assert job.id == oldest.id
    assert job.status is JobStatus.RUNNING
    assert job.worker is not None and job.worker.id == "worker-7"
    assert job.attempts == 1
    assert job.started_at is not None


def test_claim_next_returns_none_when_nothing_is_queued(store: JobStore) -> None:
    assert store.claim_next("worker-1") is None
    make_job(store)
    claim(store)
    assert store.claim_next("worker-2") is None


def _claim_in_process(
    url: str, worker_id: str, barrier: Barrier, results: Queue[tuple[str, list[str]]], until_empty: bool
) -> None:
    """Child process: open an own store, wait for the others, then claim one job (or until none is left)."""
    store = JobStore(url)
    claimed: list[str] = []
    try:
        store.ping()  # connect (and set the SQLite pragmas) before the race starts
        barrier.wait(timeout=PROCESS_TIMEOUT_S)
        while (job := store.claim_next(worker_id)) is not None:
            claimed.append(job.id)
            if not until_empty:
                break
    finally:
        results.put((worker_id, claimed))
        store.close()


def run_claimers(url: str, processes: int, until_empty: bool) -> dict[str, list[str]]:
    """Start `processes` spawned claimers that begin together; worker id -> job ids each one claimed."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results: Queue[tuple[str, list[str]]] = ctx.Queue()
    children = [
        ctx.Process(target=_claim_in_process, args=(url, f"worker-{i}", barrier, results, until_empty))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    try:
        outcome = dict(results.get(timeout=PROCESS_TIMEOUT_S) for _ in children)
    finally:
        for child in children:
            child.join(timeout=PROCESS_TIMEOUT_S)
    assert [child.exitcode for child in children] == [0] * processes
    return outcome


def test_processes_racing_to_claim_one_job_exactly_one_wins(store: JobStore, database_url: str) -> None:
    job = make_job(store)

    outcome = run_claimers(database_url, processes=4, until_empty=False)

    winners = [worker for worker, ids in outcome.items() if ids]
    assert len(winners) == 1, outcome
    assert outcome[winners[0]] == [job.id]
    claimed = store.read_job(job.id)
    assert claimed.status is JobStatus.RUNNING
    assert claimed.worker is not None and claimed.worker.id == winners[0]
    assert claimed.attempts == 1


def test_processes_claiming_several_jobs_claim_each_job_exactly_once(store: JobStore, database_url: str) -> None:
    job_ids = {make_job(store).id for _ in range(8)}

    outcome = run_claimers(database_url, processes=4, until_empty=True)

    claimed = [job_id for ids in outcome.values() for job_id in ids]
    assert sorted(claimed) == sorted(job_ids)  # every job once, none twice
    for worker_id, ids in outcome.items():
        for job_id in ids:
            job = store.read_job(job_id)
            assert job.worker is not None and job.worker.id == worker_id
            assert job.attempts == 1


# --- heartbeats and recovery ----------------------------------------------------------------------------


def test_requeue_stale_requeues_a_running_job_with_an_old_heartbeat(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")

    requeued, _failed = store.requeue_stale(datetime.now(UTC) + timedelta(seconds=1))

    assert requeued == [job.id]
    reread = store.read_job(job.id)
    assert reread.status is JobStatus.QUEUED
    assert reread.worker is None
    again = claim(store, "worker-2")
    assert again.id == job.id and again.attempts == 2


def test_requeue_stale_leaves_a_job_with_a_fresh_heartbeat_running(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")

    assert store.requeue_stale(datetime.now(UTC) - timedelta(seconds=30))[0] == []
    assert store.read_job(job.id).status is JobStatus.RUNNING


def test_requeue_stale_only_requeues_jobs_older_than_the_cutoff(store: JobStore) -> None:
    silent = make_job(store)
    beating = make_job(store)
    claim(store, "worker-1")
    claim(store, "worker-1")
    cutoff = datetime.now(UTC)
    store.heartbeat([beating.id], "worker-1")

    assert store.requeue_stale(cutoff)[0] == [silent.id]
    assert store.read_job(silent.id).status is JobStatus.QUEUED
    assert store.read_job(beating.id).status is JobStatus.RUNNING


def test_heartbeat_from_another_worker_does_not_keep_a_job_alive(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")
    cutoff = datetime.now(UTC)
    store.heartbeat([job.id], "worker-2")

    assert store.requeue_stale(cutoff)[0] == [job.id]


def test_requeue_stale_ignores_queued_and_finished_jobs(store: JobStore) -> None:
    queued = make_job(store)
    cancelled = make_job(store)
    store.cancel(cancelled.id)

    assert store.requeue_stale(datetime.now(UTC) + timedelta(seconds=1))[0] == []
    assert store.read_job(queued.id).status is JobStatus.QUEUED
    assert store.read_job(cancelled.id).status is JobStatus.CANCELLED


def test_requeue_only_gives_back_a_job_held_by_that_worker(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")

    assert store.requeue(job.id, "worker-2") is False
    still = store.read_job(job.id)
    assert still.status is JobStatus.RUNNING
    assert still.worker is not None and still.worker.id == "worker-1"

    assert store.requeue(job.id, "worker-1") is True
    back = store.read_job(job.id)
    assert back.status is JobStatus.QUEUED and back.worker is None


def test_requeue_of_a_queued_job_does_nothing(store: JobStore) -> None:
    job = make_job(store)

    assert store.requeue(job.id, "worker-1") is False
    assert store.read_job(job.id).status is JobStatus.QUEUED


def test_set_worker_pid_is_shown_on_the_job(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")

    store.set_worker_pid(job.id, 4242)

    worker = store.read_job(job.id).worker
    assert worker is not None and worker.id == "worker-1" and worker.pid == 4242


def test_claims_report_status_and_owner_of_each_asked_job(store: JobStore) -> None:
    running = make_job(store)
    queued = make_job(store)
    claim(store)

    assert store.claims([running.id, queued.id, "unknown"]) == {
        running.id: Claim(JobStatus.RUNNING, "worker-1"),
        queued.id: Claim(JobStatus.QUEUED, None),
    }
    assert store.claims([]) == {}


# --- epochs and progress --------------------------------------------------------------------------------


def test_record_epoch_builds_history_in_epoch_order(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)

    store.runs.record_epoch(job.id, "worker-1", epoch=2, epochs=3, metrics={"loss": 0.4, "accuracy": 0.8})
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9, "accuracy": 0.5})
    store.runs.record_epoch(job.id, "worker-1", epoch=3, epochs=3, metrics={"loss": 0.2, "accuracy": None})

    assert store.read_job(job.id).metrics.history == {"loss": [0.9, 0.4, 0.2], "accuracy": [0.5, 0.8, None]}


def test_record_epoch_advances_progress(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)

    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9})
    assert store.read_job(job.id).progress.epoch == 1
    store.runs.record_epoch(job.id, "worker-1", epoch=2, epochs=3, metrics={"loss": 0.5})

    progress = store.read_job(job.id).progress
    assert (progress.epoch, progress.epochs) == (2, 3)


def test_recording_the_same_epoch_twice_keeps_one_entry(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)

    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9})
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.7})
    store.runs.record_epoch(job.id, "worker-1", epoch=2, epochs=3, metrics={"loss": 0.5})

    assert store.read_job(job.id).metrics.history == {"loss": [0.7, 0.5]}


def test_start_attempt_clears_history_and_progress(store: JobStore) -> None:
    job = make_job(store, epochs=3)
    claim(store)
    store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9})
    store.runs.record_epoch(job.id, "worker-1", epoch=2, epochs=3, metrics={"loss": 0.5})

    store.runs.start_attempt(job.id, "worker-1", 3)

    reread = store.read_job(job.id)
    assert reread.metrics.history == {}
    assert (reread.progress.epoch, reread.progress.epochs) == (0, 3)


def test_histories_of_jobs_do_not_mix(store: JobStore) -> None:
    first = make_job(store)
    second = make_job(store)
    claim(store)
    claim(store)
    store.runs.record_epoch(first.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 1.0})
    store.runs.record_epoch(second.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 2.0})

    by_id = {j.id: j.metrics.history for j in store.read_jobs()}

    assert by_id == {first.id: {"loss": [1.0]}, second.id: {"loss": [2.0]}}


# --- outcomes and cancelling ----------------------------------------------------------------------------


def test_succeed_records_the_model_and_final_metrics(store: JobStore) -> None:
    job = make_job(store)
    claim(store)

    assert (
        store.runs.succeed(job.id, "worker-1", model=ModelRef(name="iris", version=3), final={"accuracy": 0.9}) is True
    )

    done = store.read_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.model == ModelRef(name="iris", version=3)
    assert done.metrics.final == {"accuracy": 0.9}
    assert done.finished_at is not None


def test_fail_records_the_error(store: JobStore) -> None:
    job = make_job(store)
    claim(store)

    assert store.runs.fail(job.id, "worker-1", JobError(type="ValueError", message="boom")) is True

    failed = store.read_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == JobError(type="ValueError", message="boom")


def test_cancel_a_queued_job_marks_it_cancelled(store: JobStore) -> None:
    job = make_job(store)

    cancelled = store.cancel(job.id)

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.finished_at is not None
    assert store.claim_next("worker-1") is None


def test_cancel_a_running_job_marks_it_cancelled(store: JobStore) -> None:
    job = make_job(store)
    claim(store)

    assert store.cancel(job.id).status is JobStatus.CANCELLED
    assert store.claims([job.id])[job.id].status is JobStatus.CANCELLED


def test_cancel_a_succeeded_job_is_a_no_op(store: JobStore) -> None:
    job = make_job(store)
    claim(store)
    store.runs.succeed(job.id, "worker-1", model=ModelRef(name="iris", version=1), final={"accuracy": 1.0})

    after = store.cancel(job.id)

    assert after.status is JobStatus.SUCCEEDED
    assert after.model == ModelRef(name="iris", version=1)


def test_succeed_after_cancel_returns_false_and_the_job_stays_cancelled(store: JobStore) -> None:
    job = make_job(store)
    claim(store)
    store.cancel(job.id)

    assert (
        store.runs.succeed(job.id, "worker-1", model=ModelRef(name="iris", version=1), final={"accuracy": 1.0}) is False
    )
    assert store.runs.fail(job.id, "worker-1", JobError(type="RuntimeError", message="late")) is False

    after = store.read_job(job.id)
    assert after.status is JobStatus.CANCELLED
    assert after.model is None and after.error is None


def test_succeed_of_a_queued_job_returns_false(store: JobStore) -> None:
    job = make_job(store)

    assert store.runs.succeed(job.id, "worker-1", model=ModelRef(name="iris", version=1), final={}) is False
    assert store.read_job(job.id).status is JobStatus.QUEUED


def test_a_cancelled_job_is_not_requeued_by_its_worker(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-1")
    store.cancel(job.id)

    assert store.requeue(job.id, "worker-1") is False
    assert store.read_job(job.id).status is JobStatus.CANCELLED


# --- ownership: a worker that lost its claim cannot write ----------------------------------------------


def test_a_worker_that_lost_its_claim_cannot_record_or_finish(store: JobStore) -> None:
    job = make_job(store)
    claim(store, "worker-old")
    store.runs.record_epoch(job.id, "worker-old", epoch=1, epochs=3, metrics={"loss": 0.9})
    assert store.requeue_stale(datetime.now(UTC) + timedelta(seconds=1))[0] == [job.id]
    claim(store, "worker-new")

    with pytest.raises(ClaimLost):
        store.runs.record_epoch(job.id, "worker-old", epoch=2, epochs=3, metrics={"loss": 0.1})
    with pytest.raises(ClaimLost):
        store.runs.start_attempt(job.id, "worker-old", 3)
    assert store.runs.succeed(job.id, "worker-old", model=ModelRef(name="iris", version=1), final={}) is False
    assert store.runs.fail(job.id, "worker-old", JobError(type="RuntimeError", message="late")) is False

    reread = store.read_job(job.id)
    assert reread.status is JobStatus.RUNNING and reread.worker is not None and reread.worker.id == "worker-new"
    assert reread.metrics.history == {"loss": [0.9]}


def test_recording_an_epoch_of_a_cancelled_job_raises_claim_lost(store: JobStore) -> None:
    job = make_job(store)
    claim(store)
    store.cancel(job.id)

    with pytest.raises(ClaimLost):
        store.runs.record_epoch(job.id, "worker-1", epoch=1, epochs=3, metrics={"loss": 0.9})
    assert store.read_job(job.id).metrics.history == {}


def test_a_stale_job_without_retries_left_fails_instead_of_requeueing(store: JobStore) -> None:
    job = make_job(store, max_retries=1)
    claim(store, "worker-a")
    assert store.requeue_stale(datetime.now(UTC) + timedelta(seconds=1)) == ([job.id], [])
    claim(store, "worker-b")

    assert store.requeue_stale(datetime.now(UTC) + timedelta(seconds=1)) == ([], [job.id])
    failed = store.read_job(job.id)
    assert failed.status is JobStatus.FAILED and failed.attempts == 2
    assert failed.error is not None and failed.error.type == "WorkerLost"


def test_resume_attempt_drops_epochs_after_the_checkpoint_and_says_where_it_resumed(store: JobStore) -> None:
    job = make_job(store, epochs=5)
    claim(store)
    for epoch in (1, 2, 3):
        store.runs.record_epoch(job.id, "worker-1", epoch=epoch, epochs=5, metrics={"loss": 1.0 / epoch})

    store.runs.resume_attempt(job.id, "worker-1", fold=None, epoch=2)

    resumed = store.read_job(job.id)
    assert resumed.metrics.history == {"loss": [1.0, 0.5]}
    assert resumed.resumed_from is not None and resumed.resumed_from.epoch == 2
