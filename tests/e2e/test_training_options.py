"""Every training option trained for real through the API and worker processes, on tiny data.

All jobs are submitted at once by a module fixture and run on two worker slots while the tests wait for theirs.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine

from tests.e2e.server import Server
from tests.support import iris_spec, mnist_shaped_inline, seed_article_fixed

IRIS = load_iris()
# fmt: off
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "clipnorm": 1.0},
    "adam": {"name": "adam", "learning_rate": 0.02, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-6, "amsgrad": True},
    "adamw": {"name": "adamw", "learning_rate": 0.02, "weight_decay": 0.01, "clipvalue": 0.5},
    "rmsprop": {"name": "rmsprop", "learning_rate": 0.01, "rho": 0.8, "momentum": 0.5},
    "adagrad": {"name": "adagrad", "learning_rate": 0.05},
    "nadam": {"name": "nadam", "learning_rate": 0.02},
    "exponential": {
        "name": "adam",
        "learning_rate": {
            "schedule": "exponential", "initial_learning_rate": 0.05, "decay_steps": 20, "decay_rate": 0.9,
        },
    },
    "cosine": {
        "name": "sgd",
        "momentum": 0.9,
        "learning_rate": {
            "schedule": "cosine", "initial_learning_rate": 0.001, "decay_steps": 200, "warmup_steps": 20,
            "warmup_target": 0.05,
        },
    },
    "piecewise": {
        "name": "adam", "learning_rate": {"schedule": "piecewise", "boundaries": [60], "values": [0.05, 0.01]},
    },
}
# fmt: on
DIABETES_LAYERS = [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 1}]


def _specs() -> dict[str, dict[str, Any]]:
    iris_validation = {"inline": {"x": IRIS.data[::5].tolist(), "y": IRIS.target_names[IRIS.target[::5]].tolist()}}
    specs = {
        f"optimizer-{name}": iris_spec(20, model_name=f"opt-{name}", optimizer=opt) for name, opt in OPTIMIZERS.items()
    }
    specs.update(
        plateau=iris_spec(
            model_name="plateau",
            fit={"epochs": 6, "batch_size": 16, "validation_split": 0.2,
                 "reduce_lr_on_plateau": {"monitor": "val_loss", "factor": 0.5, "patience": 0, "min_delta": 10}},
        ),
        auto_lr=iris_spec(20, model_name="auto-lr", optimizer={"name": "adam", "learning_rate": "auto"}),
        early_stop=iris_spec(
            model_name="early-stop",
            fit={"epochs": 300, "batch_size": 16, "validation_split": 0.2,
                 "early_stopping": {"monitor": "val_loss", "patience": 2, "min_delta": 0.01,
                                    "restore_best_weights": True}},
        ),
        validation_data=iris_spec(10, model_name="val-data", fit={"epochs": 10, "batch_size": 16,
                                                                  "validation_data": iris_validation}),
        cross_validation=iris_spec(
            model_name="cv", cross_validation={"folds": 3, "stratified": True},
            fit={"epochs": 15, "batch_size": 16, "test_split": 0.2},
        ),
        normalized_wine={
            "model_name": "wine-normalized", "dataset": {"builtin": "wine"}, "seed": 3,
            "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                 {"type": "dense", "units": 3, "activation": "softmax"}]},
            "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
            "optimizer": {"name": "adam", "learning_rate": 0.01}, "preprocessing": {"normalize": True},
            "fit": {"epochs": 30, "batch_size": 16},
        },
        diabetes={
            "model_name": "diabetes", "dataset": {"builtin": "diabetes"}, "seed": 5,
            "model": {"layers": DIABETES_LAYERS}, "loss": "mse", "metrics": ["mae"],
            "optimizer": {"name": "adam", "learning_rate": 0.05}, "preprocessing": {"normalize": True},
            "fit": {"epochs": 40, "batch_size": 32},
        },
        seed_fixed=seed_article_fixed(mnist_shaped_inline()),
        repeat_a=iris_spec(8, model_name="repeat", fit={"epochs": 8, "batch_size": 16, "validation_split": 0.2}),
        repeat_b=iris_spec(8, model_name="repeat", fit={"epochs": 8, "batch_size": 16, "validation_split": 0.2}),
    )  # fmt: skip
    return specs


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("options")
    server = Server(data_dir / "data", data_dir / "server.log", MAAS_WORKERS="2")
    try:
        yield server, {name: server.train(spec)["id"] for name, spec in _specs().items()}
    finally:
        server.stop()


def finished(jobs: tuple[Server, dict[str, str]], name: str) -> dict[str, Any]:
    server, ids = jobs
    return server.wait_finished(ids[name], timeout=420)


def predict(server: Server, model: str, rows: np.ndarray) -> dict[str, Any]:
    response = server.http.post("/predict", json={"model": model, "instances": rows.tolist()})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_and_schedule_trains(jobs: tuple[Server, dict[str, str]], name: str) -> None:
    job = finished(jobs, f"optimizer-{name}")
    loss = job["metrics"]["history"]["loss"]
    assert len(loss) == 20 and loss[-1] < loss[0] * 0.8, loss
    assert job["metrics"]["final"]["accuracy"] >= 0.7


def test_reduce_on_plateau_lowers_the_rate(jobs: tuple[Server, dict[str, str]]) -> None:
    rates = finished(jobs, "plateau")["metrics"]["history"]["learning_rate"]
    assert rates[-1] < rates[0] and all(b <= a for a, b in zip(rates, rates[1:], strict=False)), rates


def test_auto_learning_rate_is_picked_inside_the_scan_and_converges(jobs: tuple[Server, dict[str, str]]) -> None:
    job = finished(jobs, "auto_lr")
    curve = job["metrics"]["lr_range_test"]
    assert len(curve["learning_rates"]) == len(curve["losses"]) >= 10
    assert min(curve["learning_rates"]) <= curve["chosen"] <= max(curve["learning_rates"])
    assert job["metrics"]["history"]["loss"][-1] < job["metrics"]["history"]["loss"][0]
    assert job["metrics"]["final"]["accuracy"] >= 0.8
    server, _ = jobs
    assert server.http.get("/models/auto-lr/versions/1").json()["learning_rate"] == curve["chosen"]


def test_early_stopping_stops_and_restores_the_best_epoch(jobs: tuple[Server, dict[str, str]]) -> None:
    job = finished(jobs, "early_stop")
    val_loss = job["metrics"]["history"]["val_loss"]
    assert len(val_loss) < 300
    # The kept weights are those of the last epoch that improved by min_delta, `patience` epochs before the end.
    best = job["metrics"]["final"]["val_loss"]
    assert val_loss.index(best) == len(val_loss) - 1 - 2
    assert best <= min(val_loss) + 0.01


def test_validation_on_a_second_dataset(jobs: tuple[Server, dict[str, str]]) -> None:
    history = finished(jobs, "validation_data")["metrics"]["history"]
    assert len(history["val_accuracy"]) == 10 and history["val_accuracy"][-1] >= 0.6


def test_cross_validation_reports_each_fold_then_publishes_a_final_model(jobs: tuple[Server, dict[str, str]]) -> None:
    job = finished(jobs, "cross_validation")
    cv = job["metrics"]["cv"]
    assert [f["fold"] for f in cv["folds"]] == [1, 2, 3]
    assert all(len(f["history"]["val_accuracy"]) == 15 for f in cv["folds"])
    fold_accuracies = [f["metrics"]["val_accuracy"] for f in cv["folds"]]
    assert cv["mean"]["val_accuracy"] == pytest.approx(np.mean(fold_accuracies))
    assert cv["std"]["val_accuracy"] == pytest.approx(np.std(fold_accuracies))
    progress = dict(job["progress"])
    assert progress.pop("samples_per_second") > 0
    assert progress == {"epoch": 15, "epochs": 15, "fold": None, "folds": 3}
    assert set(job["metrics"]["test"]) >= {"loss", "accuracy"}
    server, _ = jobs
    version = server.http.get("/models/cv/versions/1").json()
    assert version["cv_metrics"]["mean"] == cv["mean"] and version["test_metrics"] == job["metrics"]["test"]


def test_normalization_inside_the_model_serves_raw_features(jobs: tuple[Server, dict[str, str]]) -> None:
    finished(jobs, "normalized_wine")
    server, _ = jobs
    wine = load_wine()
    body = predict(server, "wine-normalized", wine.data)
    assert (np.array(body["classes"]) == wine.target_names[wine.target]).mean() >= 0.9

    import keras

    artifact = server.http.get("/models/wine-normalized/versions/1/artifact").content
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"wine-{os.getpid()}.keras"
    path.write_bytes(artifact)
    try:
        model = keras.saving.load_model(path)
    finally:
        path.unlink()
    normalization = model.layers[0]
    assert isinstance(normalization, keras.layers.Normalization)
    np.testing.assert_allclose(np.ravel(normalization.mean), wine.data.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(model(wine.data[:5].astype("float32")).numpy(), body["predictions"][:5], atol=1e-5)
    assert zipfile.is_zipfile(io.BytesIO(artifact))


def test_regression_gives_numeric_predictions(jobs: tuple[Server, dict[str, str]]) -> None:
    job = finished(jobs, "diabetes")
    server, _ = jobs
    diabetes = load_diabetes()
    body = predict(server, "diabetes", diabetes.data)
    assert "classes" not in body
    predictions = np.array(body["predictions"])
    assert predictions.shape == (len(diabetes.target), 1)
    baseline = np.abs(diabetes.target - diabetes.target.mean()).mean()
    assert np.abs(predictions[:, 0] - diabetes.target).mean() < 0.85 * baseline
    assert "mae" in job["metrics"]["final"]


def test_the_fixed_seed_snippet_trains(jobs: tuple[Server, dict[str, str]]) -> None:
    job = finished(jobs, "seed_fixed")
    assert len(job["metrics"]["history"]["loss"]) == 3 and job["model"]["version"] == 1


def test_same_spec_and_seed_give_the_same_metrics(jobs: tuple[Server, dict[str, str]]) -> None:
    first, second = finished(jobs, "repeat_a"), finished(jobs, "repeat_b")
    for name, values in first["metrics"]["history"].items():
        np.testing.assert_allclose(values, second["metrics"]["history"][name], rtol=1e-5, err_msg=name)
