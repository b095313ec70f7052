"""Sweeps for real: trials are ordinary jobs on worker processes, bad trials are pruned, the best is published."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.server import Server
from tests.support import digits_spec

SWEEP_DONE = {"succeeded", "failed", "cancelled"}


def digits_base(epochs: int) -> dict[str, Any]:
    base = digits_spec(fit={"epochs": epochs, "batch_size": 64, "validation_split": 0.2})
    base.pop("model_name")
    return base


def start(server: Server, body: dict[str, Any]) -> str:
    response = server.http.post("/sweeps", json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_sweep(server: Server, sweep_id: str, done: Any = None, timeout: float = 400) -> dict[str, Any]:
    done = done or (lambda s: s["status"] in SWEEP_DONE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = server.http.get(f"/sweeps/{sweep_id}").json()
        if done(state):
            return state
        time.sleep(0.5)
    raise AssertionError(f"sweep {sweep_id} never got there: {state}\n{server.log()}")


def test_a_six_trial_sweep_publishes_the_best_trial(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log", MAAS_WORKERS="2")
    try:
        sweep_id = start(
            server,
            {
                "model_name": "digits-sweep",
                "base": digits_base(epochs=4),
                "search_space": {
                    "optimizer.learning_rate": {"type": "log_uniform", "low": 1e-4, "high": 3e-2},
                    "optimizer.name": {"type": "choice", "choices": ["adam", "sgd"]},
                },
                "trials": 6,
                "parallelism": 2,
                "sampler": "random",
                "seed": 3,
                "alias": "production",
                "objective": {"metric": "val_accuracy", "direction": "maximize"},
            },
        )
        done = wait_sweep(server, sweep_id)
        assert done["status"] == "succeeded", done
        trials = done["trials"]
        assert len(trials) == 6 and {t["state"] for t in trials} == {"complete"}
        assert {t["params"]["optimizer.name"] for t in trials} <= {"adam", "sgd"}
        best = max(trials, key=lambda t: t["objective"])
        assert done["best"]["number"] == best["number"] and done["best"]["objective"] == best["objective"]
        assert set(done["importances"]) == {"optimizer.learning_rate", "optimizer.name"}

        jobs = server.http.get("/jobs", params={"sweep_id": sweep_id}).json()
        assert sorted(j["trial"] for j in jobs) == list(range(6))
        assert all(j["status"] == "succeeded" for j in jobs)
        version = server.http.get("/models/digits-sweep/versions/1").json()
        assert version["metrics"]["val_accuracy"] == best["objective"] and version["trial"] == best["number"]
        assert server.http.get("/models/digits-sweep").json()["aliases"] == {"production": 1}
        assert done["model"] == {"name": "digits-sweep", "version": 1}
    finally:
        server.stop()


def test_pruning_stops_a_hopeless_trial_early(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log")
    try:
        # Grid order with seed 1 is [0.05, 1e-7]: the good trial completes first, then the hopeless one
        # (a learning rate of 1e-7 leaves the network at chance) falls below its median and is stopped.
        sweep_id = start(
            server,
            {
                "model_name": "pruned-sweep",
                "base": digits_base(epochs=12),
                "search_space": {"optimizer.learning_rate": {"type": "choice", "choices": [0.05, 1e-7]}},
                "trials": 2,
                "sampler": "grid",
                "seed": 1,
                "objective": {"metric": "val_accuracy", "direction": "maximize"},
                "pruner": {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 2},
            },
        )
        done = wait_sweep(server, sweep_id)
        states = {t["params"]["optimizer.learning_rate"]: t for t in done["trials"]}
        assert states[0.05]["state"] == "complete" and states[1e-7]["state"] == "pruned"
        pruned = server.job(states[1e-7]["job_id"])
        assert pruned["status"] == "pruned" and 2 <= len(pruned["metrics"]["history"]["loss"]) < 12
        assert "pruned after epoch" in pruned["error"]["message"]
        assert done["status"] == "succeeded" and done["best"]["params"] == {"optimizer.learning_rate": 0.05}
    finally:
        server.stop()


def test_a_sweep_continues_after_a_restart(data_dir: Path, tmp_path: Path) -> None:
    body = {
        "model_name": "restart-sweep",
        "base": digits_base(epochs=6),
        "search_space": {"optimizer.learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 3e-2}},
        "trials": 3,
        "sampler": "random",
        "seed": 5,
        "objective": {"metric": "val_loss", "direction": "minimize"},
    }
    server = Server(data_dir, tmp_path / "first.log")
    sweep_id = start(server, body)
    wait_sweep(server, sweep_id, lambda s: any(t["state"] == "complete" for t in s["trials"]))
    assert server.stop() == 0

    server = Server(data_dir, tmp_path / "second.log")
    try:
        done = wait_sweep(server, sweep_id)
        assert done["status"] == "succeeded" and len(done["trials"]) == 3
        assert {t["state"] for t in done["trials"]} == {"complete"}
        assert len(server.http.get("/jobs", params={"sweep_id": sweep_id}).json()) == 3
        assert done["model"]["version"] == 1
    finally:
        server.stop()
