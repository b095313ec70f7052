"""Pre-flight validation of every training option: each mistake is a 422 naming its field, nothing is queued."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_train_api import assert_problem
from tests.support import digits_spec, iris_spec, mnist_shaped_inline, seed_article_fixed, seed_article_snippet


def refused(client: TestClient, spec: dict) -> dict:
    body = assert_problem(client.post("/train", json=spec), 422)
    assert client.get("/jobs").json() == [], "a refused spec must not queue a job"
    return body


def test_the_seed_snippet_is_refused_with_each_mistake_named(client: TestClient) -> None:
    body = refused(client, seed_article_snippet(mnist_shaped_inline()))
    by_loc = {tuple(e["loc"]): e["msg"] for e in body["errors"]}
    assert "[100]" in by_loc[("model", "input_shape")] and "[28, 28]" in by_loc[("model", "input_shape")]
    assert "flatten" in by_loc[("model", "layers", 2)]  # Dense on 28x28 images gives [28, 1], not a vector
    assert "needs 2 classes but the dataset has 10" in by_loc[("loss",)]
    assert "from_logits=true" in by_loc[("loss", "from_logits")] and "sigmoid" in by_loc[("loss", "from_logits")]


def test_the_fixed_seed_snippet_is_accepted(client: TestClient) -> None:
    assert client.post("/train", json=seed_article_fixed(mnist_shaped_inline())).status_code == 202


@pytest.mark.parametrize(
    ("optimizer", "loc_and_text"),
    [
        ({"name": "sgd", "beta_1": 0.9}, "adam, adamw, nadam"),
        ({"name": "adam", "nesterov": True}, "sgd"),
        ({"name": "adagrad", "amsgrad": True}, "adam, adamw"),
        ({"name": "sgd", "clipnorm": 1.0, "clipvalue": 0.5}, "clipnorm or clipvalue"),
        ({"name": "adam", "learning_rate": {"schedule": "piecewise", "boundaries": [10], "values": [0.1]}}, "one more"),
        ({"name": "adam", "learning_rate": {"schedule": "linear"}}, "exponential"),
        ({"name": "adam", "learning_rate": -1}, "learning_rate"),
        ({"name": "adam", "learning_rate": "fast"}, "auto"),
    ],
)
def test_optimizer_mistakes_are_named(client: TestClient, optimizer: dict, loc_and_text: str) -> None:
    body = refused(client, iris_spec(optimizer=optimizer))
    assert loc_and_text in body["detail"]
    assert all(e["loc"][0] == "optimizer" for e in body["errors"])


def test_schedule_with_reduce_on_plateau_is_refused(client: TestClient) -> None:
    schedule = {"schedule": "exponential", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9}
    spec = iris_spec(
        optimizer={"name": "adam", "learning_rate": schedule},
        fit={"epochs": 2, "validation_split": 0.2, "reduce_lr_on_plateau": {}},
    )
    assert "reduce_lr_on_plateau" in refused(client, spec)["detail"]


def test_lr_range_bounds_must_be_ordered(client: TestClient) -> None:
    spec = iris_spec(fit={"epochs": 2, "lr_range_test": {"min_lr": 0.1, "max_lr": 0.01}})
    assert "min_lr" in refused(client, spec)["detail"]


def test_callbacks_monitoring_validation_need_validation_data(client: TestClient) -> None:
    spec = iris_spec(fit={"epochs": 2, "early_stopping": {"monitor": "val_loss"}, "reduce_lr_on_plateau": {}})
    locs = [e["loc"] for e in refused(client, spec)["errors"]]
    assert ["fit", "early_stopping", "monitor"] in locs and ["fit", "reduce_lr_on_plateau", "monitor"] in locs


def test_cross_validation_folds_must_fit_the_rarest_class(client: TestClient) -> None:
    inline = {"inline": {"x": [[i, i % 3] for i in range(12)], "y": ["a"] * 10 + ["b"] * 2}}
    spec = iris_spec(dataset=inline, cross_validation={"folds": 3}, fit={"epochs": 1, "batch_size": 2})
    spec["model"]["layers"][-1]["units"] = 2
    body = refused(client, spec)
    assert body["errors"][0]["loc"] == ["cross_validation", "folds"] and "rarest class has 2" in body["detail"]


def test_cross_validation_with_a_validation_split_is_refused(client: TestClient) -> None:
    spec = iris_spec(cross_validation={"folds": 3}, fit={"epochs": 1, "validation_split": 0.2})
    assert refused(client, spec)["errors"][0]["loc"] == ["cross_validation"]


def test_validation_data_must_match_the_training_data(client: TestClient) -> None:
    other = {"inline": {"x": [[1.0, 2.0], [3.0, 4.0]], "y": ["setosa", "virginica"]}}
    body = refused(client, iris_spec(fit={"epochs": 1, "validation_data": other}))
    assert body["errors"][0]["loc"] == ["fit", "validation_data"] and "[2]" in body["detail"]
    unknown = {"inline": {"x": [[1.0, 2.0, 3.0, 4.0]] * 2, "y": ["setosa", "rose"]}}
    assert "rose" in refused(client, iris_spec(fit={"epochs": 1, "validation_data": unknown}))["detail"]
    both = iris_spec(fit={"epochs": 1, "validation_split": 0.1, "validation_data": unknown})
    assert "not both" in refused(client, both)["detail"]


def test_test_split_must_leave_rows(client: TestClient) -> None:
    inline = {"inline": {"x": [[0.0], [1.0], [2.0], [3.0]], "y": [0.0, 1.0, 2.0, 3.0]}}
    spec = {
        "model_name": "tiny",
        "dataset": inline,
        "model": {"layers": [{"type": "dense", "units": 1}]},
        "loss": "mse",
        "fit": {"epochs": 1, "batch_size": 1, "test_split": 0.2},
    }
    assert refused(client, spec)["errors"][0]["loc"] == ["fit", "test_split"]


def test_binary_metrics_need_a_binary_head(client: TestClient) -> None:
    body = refused(client, iris_spec(metrics=["accuracy", "precision"]))
    assert body["errors"][0]["loc"] == ["metrics", 1]


def test_too_many_parameters_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "small", workers=0, prewarm=False, max_params=1000)
    with TestClient(create_app(settings)) as small:
        body = assert_problem(small.post("/train", json=digits_spec()), 422)
    assert "more than the limit of 1000" in body["detail"]


def test_regression_on_diabetes_is_accepted_with_regression_losses(client: TestClient) -> None:
    spec = {
        "model_name": "diabetes-mlp",
        "dataset": {"builtin": "diabetes"},
        "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 1}]},
        "loss": "mse",
        "metrics": ["mae"],
    }
    assert client.post("/train", json=spec).status_code == 202
    spec["model"]["layers"][-1]["units"] = 3
    assert refused_after_one(client, spec)["errors"][0]["loc"] == ["model", "layers", 1]


def refused_after_one(client: TestClient, spec: dict) -> dict:
    return assert_problem(client.post("/train", json=spec), 422)


@pytest.fixture(scope="module")
def config() -> dict:
    """What `model.to_json()` gives for a small iris classifier."""
    import keras

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    )
    return json.loads(model.to_json())


class TestKerasConfig:
    """`keras_config` models: built-in layers only."""

    def test_a_builtin_config_is_accepted_as_object_or_json_string(self, client: TestClient, config: dict) -> None:
        assert client.post("/train", json=iris_spec(model={"keras_config": config})).status_code == 202
        assert client.post("/train", json=iris_spec(model={"keras_config": json.dumps(config)})).status_code == 202

    def test_a_lambda_layer_is_refused(self, client: TestClient, config: dict) -> None:
        lambda_layer = {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "..."}}},
            "registered_name": None,
        }
        config = json.loads(json.dumps(config))
        config["config"]["layers"].insert(1, lambda_layer)
        body = refused(client, iris_spec(model={"keras_config": config}))
        assert "Lambda" in body["detail"] and body["errors"][0]["loc"][:2] == ["model", "keras_config"]

    def test_a_custom_class_is_refused(self, client: TestClient, config: dict) -> None:
        config = json.loads(json.dumps(config))
        config["config"]["layers"][1].update(module="my_package.layers", registered_name="Custom>Dense")
        assert "my_package.layers" in refused(client, iris_spec(model={"keras_config": config}))["detail"]

    def test_shape_and_head_are_checked_against_the_data(self, client: TestClient, config: dict) -> None:
        body = refused(client, digits_spec(model={"keras_config": config}))
        assert "[4]" in body["detail"] and "[64]" in body["detail"] and "10 classes" in body["detail"]
