"""A model's life after version 1: fine-tune from the registry, evaluate versions side by side, score a whole
dataset in a batch job (which survives its process being killed mid-way)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import confusion_matrix

from tests.e2e.server import Server
from tests.support import iris_spec

IRIS = load_iris()
LABELS = list(IRIS.target_names)
# Iris' four features with two made-up classes: a dataset the 3-class model cannot take without a new head.
TWO_CLASS = {"inline": {"x": IRIS.data.tolist(), "y": ["small" if p < 2.5 else "large" for p in IRIS.data[:, 2]]}}


def finetune(**init: Any) -> dict[str, Any]:
    spec = iris_spec(epochs=3, model_name="iris-tuned")
    del spec["model"]
    return {**spec, "init_from": {"model": "iris-mlp", **init}}


@pytest.fixture(scope="module")
def trained(server: Server) -> Server:
    server.wait_finished(server.train(iris_spec(epochs=20))["id"])
    return server


def weights(server: Server, name: str, version: int, folder: Path) -> list[np.ndarray]:
    import keras

    path = folder / f"{name}-{version}.keras"
    path.write_bytes(server.http.get(f"/models/{name}/versions/{version}/artifact").content)
    return [np.asarray(w) for w in keras.saving.load_model(path, compile=False).get_weights()]


def test_fine_tuning_starts_from_the_version_and_records_its_parent(trained: Server) -> None:
    job = trained.wait_finished(trained.train(finetune(version=1))["id"])
    version = trained.http.get(f"/models/iris-tuned/versions/{job['model']['version']}").json()

    assert version["parent"] == {"name": "iris-mlp", "version": 1}
    assert version["spec"]["init_from"]["version"] == 1
    layers = [(layer["units"], layer["activation"]) for layer in version["spec"]["model"]["layers"]]
    assert layers == [(16, "relu"), (3, "softmax")], "the architecture came from v1"
    assert job["metrics"]["history"]["accuracy"][0] > 0.8, "it starts from v1's accuracy, not from chance"


def test_frozen_layers_keep_their_weights_bit_for_bit(trained: Server, tmp_path: Path) -> None:
    job = trained.wait_finished(trained.train(finetune(freeze_layers=1))["id"])
    before = weights(trained, "iris-mlp", 1, tmp_path)
    after = weights(trained, "iris-tuned", job["model"]["version"], tmp_path)

    assert all(np.array_equal(b, a) for b, a in zip(before[:2], after[:2], strict=True)), "layer 0 frozen"
    assert not np.array_equal(before[2], after[2]), "the output layer trained"


def test_reset_head_fine_tunes_onto_other_classes(trained: Server) -> None:
    spec = {**finetune(reset_head=True), "model_name": "iris-size", "dataset": TWO_CLASS}
    job = trained.wait_finished(trained.train(spec)["id"])
    version = trained.http.get(f"/models/iris-size/versions/{job['model']['version']}").json()
    answer = trained.http.post("/predict", json={"model": "iris-size", "instances": IRIS.data[:2].tolist()}).json()

    assert version["classes"] == ["large", "small"] and version["output_shape"] == [None, 2]
    assert len(answer["predictions"][0]) == 2 and set(answer["classes"]) <= {"large", "small"}


@pytest.mark.parametrize(
    ("change", "loc", "says"),
    [
        ({"dataset": {"builtin": "digits"}}, ["dataset"], ["[4]", "[64]"]),
        (
            {"dataset": TWO_CLASS},
            ["init_from", "reset_head"],
            ["['setosa', 'versicolor', 'virginica']", "['large', 'small']"],
        ),
        ({"init_from": {"model": "iris-mlp", "version": 99}}, ["init_from", "version"], ["99"]),
        ({"init_from": {"model": "no-such-model"}}, ["init_from", "model"], ["no-such-model"]),
        ({"model": {"layers": [{"type": "dense", "units": 3, "activation": "softmax"}]}}, ["model"], ["v1"]),
    ],
)
def test_fine_tuning_that_cannot_work_is_a_422_naming_both_sides(
    trained: Server, change: dict[str, Any], loc: list[str], says: list[str]
) -> None:
    response = trained.http.post("/train", json={**finetune(), **change})

    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [loc]
    assert all(word in problem["detail"] for word in says), problem["detail"]


def evaluate(server: Server, version: int) -> dict[str, Any]:
    response = server.http.post(
        f"/models/iris-mlp/versions/{version}/evaluations", json={"dataset": {"builtin": "iris"}}
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/jobs/{response.json()['id']}"
    job = server.wait_finished(response.json()["id"])
    assert job["kind"] == "evaluate" and job["progress"]["rows"] == job["progress"]["total_rows"] == 150
    return job


def test_an_evaluation_matches_what_predict_answers(trained: Server) -> None:
    job = evaluate(trained, 1)
    [evaluation] = [
        e for e in trained.http.get("/models/iris-mlp/versions/1/evaluations").json() if e["job_id"] == job["id"]
    ]
    answers = trained.http.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": IRIS.data.tolist()})
    predicted = [LABELS.index(c) for c in answers.json()["classes"]]

    matrix = evaluation["confusion_matrix"]
    assert matrix["labels"] == LABELS
    assert np.sum(matrix["matrix"]) == 150
    assert matrix["matrix"] == confusion_matrix(IRIS.target, predicted, labels=[0, 1, 2]).tolist()
    assert set(evaluation["per_class"]) == set(LABELS) and evaluation["per_class"]["setosa"]["support"] == 50
    assert {"loss", "accuracy"} <= set(evaluation["metrics"]) and evaluation["regression"] is None
    assert evaluation["metrics"]["accuracy"] == pytest.approx(np.mean(np.array(predicted) == IRIS.target), abs=1e-6)
    assert job["metrics"]["final"]["loss"] == evaluation["metrics"]["loss"]


def test_two_versions_on_one_dataset_side_by_side(trained: Server) -> None:
    trained.wait_finished(trained.train(iris_spec(epochs=2))["id"])
    evaluate(trained, 1)
    evaluate(trained, 2)
    sha = trained.http.get("/models/iris-mlp/versions/1/evaluations").json()[0]["dataset"]["sha256"]
    side = trained.http.get("/models/iris-mlp/evaluations", params={"dataset_sha256": sha}).json()
    jobs = trained.http.get("/jobs", params={"kind": "evaluate"}).json()

    assert {e["model"]["version"] for e in side} == {1, 2}
    assert {j["kind"] for j in jobs} == {"evaluate"} and len(jobs) >= 3


def test_evaluating_on_data_the_version_cannot_take_is_a_422(trained: Server) -> None:
    digits = trained.http.post("/models/iris-mlp/versions/1/evaluations", json={"dataset": {"builtin": "digits"}})
    unknown = trained.http.post("/models/iris-mlp/versions/1/evaluations", json={"dataset": TWO_CLASS})

    assert digits.status_code == 422 and "[64]" in digits.json()["detail"] and "[4]" in digits.json()["detail"]
    assert unknown.status_code == 422 and "large" in unknown.json()["detail"]


def read_output(server: Server, job_id: str, fmt: str) -> Any:
    response = server.http.get(f"/jobs/{job_id}/output")
    assert response.status_code == 200, response.text
    source = io.BytesIO(response.content)
    return (pq.read_table(source) if fmt == "parquet" else pacsv.read_csv(source)).to_pandas()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_batch_prediction_equals_predict_row_for_row(trained: Server, fmt: str) -> None:
    body = {"model": "iris-mlp", "alias": None, "version": 1, "dataset": {"builtin": "iris"}, "format": fmt}
    job = trained.http.post("/batch-predictions", json={**body, "shard_rows": 40}).json()
    early = trained.http.get(f"/jobs/{job['id']}/output")
    done = trained.wait_finished(job["id"])
    table = read_output(trained, job["id"], fmt)
    answers = trained.http.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": IRIS.data.tolist()})

    assert early.status_code in (409, 200) and done["kind"] == "predict"
    assert done["progress"]["rows"] == done["progress"]["total_rows"] == 150
    columns = [f"probability_{label}" for label in LABELS]
    assert list(table.columns) == ["row", "class", *columns]
    assert table["row"].tolist() == list(range(150))
    assert table["class"].astype(str).tolist() == answers.json()["classes"]
    probabilities = table[columns].to_numpy()
    np.testing.assert_allclose(probabilities, answers.json()["predictions"], atol=1e-5)


def test_output_before_success_is_a_409(trained: Server) -> None:
    training = trained.train(iris_spec(epochs=1))
    response = trained.http.get(f"/jobs/{training['id']}/output")

    assert response.status_code == 409
    trained.wait_finished(training["id"])


def test_a_batch_prediction_killed_mid_way_resumes_with_no_row_missing_or_doubled(
    data_dir: Path, tmp_path: Path
) -> None:
    server = Server(data_dir, tmp_path / "server.log", MAAS_FAILPOINT="after_shard_1", MAAS_MAX_RETRIES="2")
    try:
        server.wait_finished(server.train(iris_spec(epochs=2))["id"])
        body = {"model": "iris-mlp", "dataset": {"builtin": "iris"}, "format": "parquet", "shard_rows": 20}
        job = server.wait_finished(server.http.post("/batch-predictions", json=body).json()["id"])
        table = read_output(server, job["id"], "parquet")

        assert job["attempts"] == 2, "the first process died after its second shard"
        log = server.log_path.read_text()
        assert "exited with code 137" in log and "resumes at shard 2 of 8 (40 rows already written)" in log
        assert table["row"].tolist() == list(range(150)), "every row once, in order"
    finally:
        server.stop()


def test_the_cli_evaluates_and_prints_the_confusion_matrix_and_batch_scores(trained: Server, tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.server import MAAS

    def maas(*args: str) -> str:
        done = subprocess.run([MAAS, *args, "--url", trained.url], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    printed = maas("evaluate", "iris-mlp", "--version", "1", "--dataset", "iris", "--follow")
    scored = maas("batch-predict", "iris-mlp", "--dataset", "iris", "--format", "csv", "-o", str(tmp_path / "p.csv"))

    assert "true \\ predicted" in printed and all(label in printed for label in LABELS)
    assert "150 rows written" in scored and len((tmp_path / "p.csv").read_text().splitlines()) == 151
