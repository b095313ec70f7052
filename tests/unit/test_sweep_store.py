"""SweepStore on a real SQLite file, on the job store's engine: trial counting, not-found, an older table."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.errors import SweepNotFound
from app.jobs.store import JobStore
from app.sweeps.store import SweepStatus, SweepStore


def new_sweep(sweeps: SweepStore) -> str:
    sweep_id, study_name = sweeps.new_ids()
    sweeps.create(sweep_id, study_name=study_name, model_name="iris", spec={"trials": 3})
    return sweep_id


def test_trials_are_counted_once_per_seen_count(store: JobStore) -> None:
    sweeps = SweepStore(store.engine)
    sweep_id = new_sweep(sweeps)

    first = sweeps.count_created(sweep_id, 0)
    again = sweeps.count_created(sweep_id, 0)  # another worker read 0 too: it lost the race

    assert (first, again) == (True, False)
    assert sweeps.read(sweep_id).trials_created == 1


def test_the_listing_shows_the_trial_count_under_both_names(store: JobStore) -> None:
    sweeps = SweepStore(store.engine)
    sweeps.count_created(new_sweep(sweeps), 0)

    (row,) = sweeps.read_all(SweepStatus.RUNNING)

    assert row.model_dump(mode="json")["trials_created"] == row.model_dump(mode="json")["created"] == 1


def test_an_unknown_sweep_is_sweep_not_found(store: JobStore) -> None:
    with pytest.raises(SweepNotFound) as raised:
        SweepStore(store.engine).read("no-such-sweep")

    assert raised.value.code == "sweep_not_found"


def test_a_table_from_before_the_rename_keeps_its_sweeps(database_url: str) -> None:
    old = create_engine(database_url)
    with old.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE sweep (id VARCHAR(36) PRIMARY KEY, status VARCHAR(16) NOT NULL, model_name VARCHAR(64)"
                " NOT NULL, spec JSON NOT NULL, study_name VARCHAR(64) NOT NULL, created INTEGER NOT NULL,"
                " created_at DATETIME NOT NULL, finished_at DATETIME, model_version INTEGER, error JSON)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sweep VALUES ('s-1', 'running', 'iris', '{}', 'maas-sweep-s-1', 2,"
                " '2024-01-01 00:00:00', NULL, NULL, NULL)"
            )
        )
    old.dispose()
    store = JobStore(database_url)
    try:
        sweeps = SweepStore(store.engine)

        assert sweeps.read("s-1").trials_created == 2
        assert sweeps.count_created("s-1", 2)
    finally:
        store.close()
