"""`maas sweep` and `maas sweeps` through subprocess against a live server: a tiny iris sweep followed to its end
(each trial, the best one, the published version), the listings, and the exit codes scripts rely on (0 published,
1 cancelled, 2 invalid sweep, 3 unknown sweep)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.server import MAAS, Server, maas_env
from tests.support import digits_spec, iris_spec


def maas(server_url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = maas_env(tmp_path / "cli-data", MAAS_URL=server_url, COLUMNS="200", **env)
    return subprocess.run([MAAS, *args], env=environment, capture_output=True, text=True, timeout=300, check=False)


def iris_sweep(model_name: str, **overrides: Any) -> dict[str, Any]:
    """Two trials of a tiny iris MLP, three epochs each, over learning rate and optimizer."""
    base = iris_spec(fit={"epochs": 3, "batch_size": 16, "validation_split": 0.2})
    base.pop("model_name")
    return {
        "model_name": model_name,
        "base": base,
        "search_space": {
            "optimizer.learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 0.1},
            "optimizer.name": {"type": "choice", "choices": ["adam", "rmsprop"]},
        },
        "trials": 2,
        "sampler": "random",
        "seed": 1,
        "alias": "production",
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        **overrides,
    }


@pytest.fixture(scope="module")
def followed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`maas sweep SPEC.yaml --follow` of the tiny iris sweep, run once for the module."""
    spec = tmp_path_factory.mktemp("specs") / "iris-sweep.yaml"
    spec.write_text(yaml.safe_dump(iris_sweep("iris-sweep-cli")))
    return maas(server.url, spec.parent, "sweep", str(spec), "--follow", "--poll", "0.3")


def test_sweep_follow_shows_each_trial_the_best_one_and_the_published_version(
    server: Server, followed: subprocess.CompletedProcess[str]
) -> None:
    assert followed.returncode == 0, followed.stderr + server.log()
    sweep = server.http.get("/sweeps").json()[0]
    done = server.http.get(f"/sweeps/{sweep['id']}").json()
    best = done["best"]

    assert f"sweep {done['id']} (iris-sweep-cli)" in followed.stdout
    for trial in done["trials"]:
        line = f"trial {trial['number']}  complete  val_accuracy {trial['objective']:.4g} after 3 epochs"
        assert line in followed.stdout
    assert f"best trial {best['number']}: val_accuracy {best['objective']:.4g}" in followed.stdout
    assert f"optimizer.name={best['params']['optimizer.name']}" in followed.stdout
    assert "published iris-sweep-cli v1 (alias production)" in followed.stdout
    assert "2/2 trials ended" in followed.stdout


def test_sweeps_list_and_show_as_tables_and_json(
    server: Server, followed: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    listed = json.loads(maas(server.url, tmp_path, "sweeps", "--json", "--status", "succeeded").stdout)
    table = maas(server.url, tmp_path, "sweeps")
    sweep_id = listed[0]["id"]
    shown = maas(server.url, tmp_path, "sweeps", "show", sweep_id)
    as_json = json.loads(maas(server.url, tmp_path, "sweeps", "show", sweep_id, "--json").stdout)

    assert [(s["model_name"], s["model_version"]) for s in listed] == [("iris-sweep-cli", 1)]
    assert sweep_id in table.stdout and "succeeded" in table.stdout and "maximize val_accuracy" in table.stdout
    assert shown.returncode == 0 and "iris-sweep-cli v1" in shown.stdout and "production" in shown.stdout
    for trial in as_json["trials"]:
        assert trial["job_id"] in shown.stdout
    assert f"best         trial {as_json['best']['number']}:" in shown.stdout


def test_an_invalid_sweep_exits_2_naming_the_mistake(server: Server, tmp_path: Path) -> None:
    bad, empty = tmp_path / "bad.json", tmp_path / "empty.json"
    unknown_path = {"optimizer.lr": {"type": "log_uniform", "low": 1e-3, "high": 0.1}}
    bad.write_text(json.dumps(iris_sweep("iris-bad", search_space=unknown_path)))
    no_choices = {"optimizer.name": {"type": "choice", "choices": []}}
    empty.write_text(json.dumps(iris_sweep("iris-empty", search_space=no_choices)))

    invalid = maas(server.url, tmp_path, "sweep", str(bad), "--follow")
    no_choice = maas(server.url, tmp_path, "sweep", str(empty))
    missing_file = maas(server.url, tmp_path, "sweep", str(tmp_path / "nope.yaml"))
    unknown = maas(server.url, tmp_path, "sweeps", "show", "no-such-sweep")

    assert invalid.returncode == 2 and "search_space.optimizer.lr" in invalid.stderr and "lr" in invalid.stderr
    assert no_choice.returncode == 2 and "search_space.optimizer.name" in no_choice.stderr
    assert "Traceback" not in invalid.stderr + no_choice.stderr
    assert missing_file.returncode == 2 and "nope.yaml" in missing_file.stderr
    assert unknown.returncode == 3 and "no-such-sweep" in unknown.stderr
    assert not [s for s in server.http.get("/sweeps").json() if s["model_name"] in ("iris-bad", "iris-empty")]


def test_following_a_cancelled_sweep_in_a_terminal_exits_1(server: Server, tmp_path: Path) -> None:
    base = digits_spec(fit={"epochs": 500, "batch_size": 8, "validation_split": 0.2})
    base.pop("model_name")
    spec = tmp_path / "long.json"
    space = {"optimizer.learning_rate": {"type": "log_uniform", "low": 1e-4, "high": 1e-2}}
    spec.write_text(json.dumps({"model_name": "digits-sweep-long", "base": base, "search_space": space, "trials": 3}))
    started = json.loads(maas(server.url, tmp_path, "sweep", str(spec), "--json").stdout)

    cancelled = maas(server.url, tmp_path, "sweeps", "cancel", started["id"])
    # TTY_COMPATIBLE makes rich draw its live table as it would on a terminal
    followed = maas(server.url, tmp_path, "sweeps", "follow", started["id"], TTY_COMPATIBLE="1")

    assert started["status"] == "running" and started["model_name"] == "digits-sweep-long"
    assert cancelled.returncode == 0 and f"sweep {started['id']}: cancelled" in cancelled.stdout
    assert followed.returncode == 1, followed.stderr
    assert "cancelled" in followed.stdout and "sweep cancelled: nothing published" in followed.stdout
