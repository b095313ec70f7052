"""Hostile sweeps and event streams (issue 12): a sweep cannot reach past MAAS_MAX_PARAMS through ranges that fit
alone, a sampled trial that fails the checks never reaches a worker, and open event streams are capped."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.driver import SweepDriver
from app.sweeps.store import SweepStore
from tests.api.test_train_api import assert_problem
from tests.e2e.server import Server
from tests.support import iris_spec


def _sweep(base: dict[str, Any], space: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    base.pop("model_name")
    body = {"model_name": "iris-sweep", "base": base, "search_space": space, "trials": 4, "objective": {}}
    return {**body, "objective": {"metric": "val_loss"}, **overrides}


def test_two_unit_ranges_that_fit_alone_are_refused_together(client: TestClient) -> None:
    layers = [{"type": "dense", "units": 16, "activation": "relu"}] * 2 + [{"type": "dense", "units": 3}]
    base = iris_spec(model={"layers": layers}, fit={"epochs": 1, "batch_size": 16, "validation_split": 0.2})
    base["loss"] = {"name": "sparse_categorical_crossentropy", "from_logits": True}
    space = {f"model.layers[{i}].units": {"type": "int", "low": 4, "high": 100_000} for i in (0, 1)}

    problem = assert_problem(client.post("/sweeps", json=_sweep(base, space)), 422)

    assert problem["errors"] == [{"loc": ["search_space"], "msg": problem["errors"][0]["msg"]}]
    msg = problem["errors"][0]["msg"]
    assert "model.layers[0].units = 100000" in msg and "model.layers[1].units = 100000" in msg
    assert "10000" in msg and "more than the limit of 20000000" in msg
    assert client.get("/sweeps").json() == [] and client.get("/jobs").json() == []
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_sampled_trial_that_fails_the_checks_is_failed_and_never_queued(
    client: TestClient, settings: Settings
) -> None:
    base = iris_spec(fit={"epochs": 1, "batch_size": 16, "validation_split": 0.2})
    space = {
        "fit.validation_split": {"type": "choice", "choices": [0.2, 0.6]},
        "fit.batch_size": {"type": "choice", "choices": [16, 100]},
    }
    body = _sweep(base, space, sampler="grid", parallelism=4)
    created = client.post("/sweeps", json=body)
    assert created.status_code == 202, created.text
    sweep_id = created.json()["id"]

    store = JobStore(settings.resolved_database_url)
    try:
        SweepDriver(settings, store, SweepStore(store.engine)).advance_all()
    finally:
        store.close()

    trials = client.get(f"/sweeps/{sweep_id}").json()["trials"]
    failed = [t for t in trials if t["state"] == "fail"]
    assert len(trials) == 4 and len(failed) == 1
    assert failed[0]["params"] == {"fit.validation_split": 0.6, "fit.batch_size": 100}
    assert failed[0]["job_id"] is None
    assert failed[0]["error"] == "batch_size 100 is larger than the 60 training rows"
    jobs = client.get("/jobs", params={"sweep_id": sweep_id}).json()
    assert sorted((j["spec"]["fit"]["validation_split"], j["spec"]["fit"]["batch_size"]) for j in jobs) == [
        (0.2, 16),
        (0.2, 100),
        (0.6, 16),
    ]
    assert client.get("/healthz").json() == {"status": "ok"}


def _open_stream(http: httpx.Client, job_id: str, stack: ExitStack) -> httpx.Response:
    """A stream left open (its line iterator kept on the response: dropping it would close the connection)."""
    response = stack.enter_context(http.stream("GET", f"/jobs/{job_id}/events"))
    if response.status_code == 200:
        response.extensions["lines"] = lines = response.iter_lines()
        assert next(lines) == "retry: 1000"  # the server holds the stream's slot now
    return response


def test_event_streams_past_the_cap_are_429_and_health_still_answers(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", tmp_path / "server.log", MAAS_WORKERS="0", MAAS_MAX_EVENT_STREAMS="5")
    try:
        job_id = server.http.post("/train", json=iris_spec()).json()["id"]
        with httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=20)) as http:
            with ExitStack() as streams:
                opened = [_open_stream(http, job_id, streams) for _ in range(5)]
                assert [r.status_code for r in opened] == [200] * 5

                refused = http.get(f"/jobs/{job_id}/events")
                assert refused.status_code == 429
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "too_many_streams"
                assert "5 event streams are open" in refused.json()["detail"]
                assert "MAAS_MAX_EVENT_STREAMS" in refused.json()["detail"]

                started = time.monotonic()
                assert http.get("/healthz").json() == {"status": "ok"}
                assert http.get("/readyz").json() == {"status": "ready"}
                assert time.monotonic() - started < 1.0
                assert [j["id"] for j in http.get("/jobs").json()] == [job_id]

                opened[0].close()
                deadline = time.monotonic() + 10
                while _open_stream(http, job_id, streams).status_code == 429:
                    assert time.monotonic() < deadline, "the closed stream's slot was never given back"
                assert http.get("/healthz").json() == {"status": "ok"}
    finally:
        server.stop()
