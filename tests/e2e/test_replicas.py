"""Two API replicas, each with its own worker slot, on one PostgreSQL database and one shared data dir: every
job runs exactly once, by one replica, and publishes exactly one model version."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.server import Server
from tests.support import iris_spec

pytestmark = pytest.mark.postgres

JOBS = 8


def test_two_replicas_on_one_database_run_every_job_exactly_once(
    postgres_url: str, data_dir: Path, tmp_path: Path
) -> None:
    shared = {"MAAS_DATABASE_URL": postgres_url, "MAAS_WORKERS": "1"}
    replicas = [Server(data_dir, tmp_path / f"replica-{i}.log", **shared) for i in range(2)]
    try:
        # Alternate submissions, so each replica wakes its own worker as well as polling for the other's jobs.
        jobs = [replicas[i % 2].train(iris_spec(epochs=3, model_name="shared", seed=i))["id"] for i in range(JOBS)]
        done = [replicas[0].wait_finished(job_id, timeout=300) for job_id in jobs]

        assert [job["attempts"] for job in done] == [1] * JOBS, "no job was claimed twice"
        pids = {str(replica.proc.pid) for replica in replicas}
        runners = [job["worker"]["id"].split(":")[1] for job in done]
        assert set(runners) == pids, "both replicas took jobs from the one queue, and nobody else did"

        versions = replicas[1].http.get("/models/shared").json()["versions"]
        assert sorted(v["version"] for v in versions) == list(range(1, JOBS + 1))
        assert sorted(v["job_id"] for v in versions) == sorted(jobs), "one version per job, none twice"
        assert sorted(job["model"]["version"] for job in done) == list(range(1, JOBS + 1))
        assert replicas[1].job(jobs[0]) == replicas[0].job(jobs[0]), "both replicas read the same jobs"
    finally:
        for replica in replicas:
            replica.stop()
