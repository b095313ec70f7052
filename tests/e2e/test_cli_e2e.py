"""The `maas` command through subprocess against a live server: what a person types and reads, and the exit
codes scripts rely on (0 ok, 1 job failed or cancelled, 2 invalid input, 3 not found, 4 unreachable)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from tests.e2e.server import MAAS, Server, free_port, maas_env
from tests.support import digits_spec, iris_spec


def maas(server_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = maas_env(tmp_path / "cli-data", MAAS_URL=server_url, COLUMNS="200")
    return subprocess.run([MAAS, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def trained(server: Server, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`maas train SPEC --follow` of a tiny iris spec, run once for the module."""
    spec = tmp_path_factory.mktemp("specs") / "iris.json"
    spec.write_text(json.dumps(iris_spec(3, model_name="iris-cli")))
    return maas(server.url, spec.parent, "train", str(spec), "--follow")


def test_train_follow_shows_each_epoch_and_the_published_version(trained: subprocess.CompletedProcess[str]) -> None:
    assert trained.returncode == 0, trained.stderr
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3" in trained.stdout
    assert "loss" in trained.stdout
    assert trained.stdout.count(" samples/s") >= 3, "each epoch's speed"
    assert "published iris-cli v1" in trained.stdout


@pytest.mark.parametrize("suffix", ["csv", "json", "npy"])
def test_predict_reads_csv_json_and_npy(
    server: Server, trained: subprocess.CompletedProcess[str], tmp_path: Path, suffix: str
) -> None:
    rows = load_iris().data[[0, 50, 100]]
    path = tmp_path / f"rows.{suffix}"
    if suffix == "csv":
        path.write_text("sl,sw,pl,pw\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    elif suffix == "json":
        path.write_text(json.dumps({"instances": rows.tolist()}))
    else:
        np.save(path, rows)

    table = maas(server.url, tmp_path, "predict", "iris-cli", "--input", str(path), "--version", "1")
    as_json = maas(server.url, tmp_path, "predict", "iris-cli", "--input", str(path), "--json")

    assert table.returncode == 0, table.stderr
    assert "iris-cli v1" in table.stdout and "setosa" in table.stdout
    body = json.loads(as_json.stdout)
    assert body["version"] == 1 and len(body["classes"]) == 3 and len(body["predictions"]) == 3


def test_jobs_models_and_datasets_list_as_tables_and_json(
    server: Server, trained: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    jobs = json.loads(maas(server.url, tmp_path, "jobs", "--json", "--model", "iris-cli").stdout)
    shown = maas(server.url, tmp_path, "jobs", "show", jobs[0]["id"])
    models = maas(server.url, tmp_path, "models")
    csv = tmp_path / "pairs.csv"
    csv.write_text("x1,x2,label\n" + "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(12)))
    uploaded = json.loads(
        maas(server.url, tmp_path, "datasets", "upload", str(csv), "--target", "label", "--json").stdout
    )
    datasets = maas(server.url, tmp_path, "datasets")

    assert [(j["status"], j["model"]) for j in jobs] == [("succeeded", {"name": "iris-cli", "version": 1})]
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "iris-cli v1" in shown.stdout
    assert "iris-cli" in models.stdout
    assert uploaded["name"] == "pairs" and uploaded["classes"] == ["a", "b"]
    assert uploaded["id"] in datasets.stdout


def test_failures_exit_non_zero_with_a_readable_message(server: Server, tmp_path: Path) -> None:
    bad_spec = tmp_path / "bad.json"
    bad_spec.write_text(
        json.dumps(iris_spec(model={"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]}))
    )
    rows = tmp_path / "rows.json"
    rows.write_text("[[1, 2, 3, 4]]")

    invalid = maas(server.url, tmp_path, "train", str(bad_spec))
    missing_file = maas(server.url, tmp_path, "train", str(tmp_path / "nope.yaml"))
    not_found = maas(server.url, tmp_path, "predict", "never-trained", "--input", str(rows))
    unreachable = maas(f"http://127.0.0.1:{free_port()}", tmp_path, "jobs")

    assert invalid.returncode == 2 and "3 classes" in invalid.stderr and "Traceback" not in invalid.stderr
    assert missing_file.returncode == 2 and "nope.yaml" in missing_file.stderr
    assert not_found.returncode == 3 and "never-trained" in not_found.stderr
    assert unreachable.returncode == 4 and "cannot reach" in unreachable.stderr


def test_following_a_cancelled_job_exits_1(server: Server, tmp_path: Path) -> None:
    spec = tmp_path / "long.json"
    spec.write_text(json.dumps(digits_spec(model_name="digits-cli-long", fit={"epochs": 500, "batch_size": 8})))
    queued = json.loads(maas(server.url, tmp_path, "train", str(spec), "--json").stdout)

    cancelled = maas(server.url, tmp_path, "cancel", queued["id"])
    followed = maas(server.url, tmp_path, "jobs", "follow", queued["id"])

    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    assert followed.returncode == 1 and "cancelled" in followed.stdout
