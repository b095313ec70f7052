"""An uploaded CSV through a real `maas serve`: upload with string labels, train in a worker, predict the names."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris

from tests.e2e.server import Server
from tests.support import iris_spec

SPECIES = ["setosa", "versicolor", "virginica"]


def test_csv_with_string_labels_round_trips_to_the_same_names_in_predict(server: Server) -> None:
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame["species"] = [SPECIES[i] for i in iris.target]
    response = server.http.post(
        "/datasets",
        files={"file": ("flowers.csv", frame.to_csv(index=False).encode())},
        data={"name": "flowers", "target": "species"},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["classes"] == SPECIES

    spec = iris_spec(epochs=30, model_name="flowers-mlp", dataset={"id": dataset["id"]})
    done = server.wait_finished(server.train(spec)["id"], timeout=120)
    assert done["model"] == {"name": "flowers-mlp", "version": 1}
    version = server.http.get("/models/flowers-mlp/versions/1").json()
    assert version["classes"] == SPECIES and version["dataset"]["sha256"] == dataset["sha256"]

    body = server.http.post("/predict", json={"model": "flowers-mlp", "instances": iris.data.tolist()}).json()
    assert set(body["classes"]) <= set(SPECIES)
    accuracy = (np.array(body["classes"]) == frame["species"].to_numpy()).mean()
    assert accuracy >= 0.8, accuracy
