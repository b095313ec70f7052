"""The blocking Python client against a live `maas serve`: train, follow, wait, predict with numpy, and errors
as typed exceptions, including a server that is not there."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from app.client import InvalidRequest, MaasClient, MaasConnectionError, NotFound
from tests.e2e.server import Server, free_port
from tests.support import iris_spec


def test_train_follow_wait_and_predict(server: Server) -> None:
    iris = load_iris()
    with MaasClient(server.url, api_key="") as maas:
        job = maas.train(iris_spec(3, model_name="iris-client"))
        events = list(maas.follow(job["id"]))
        done = maas.wait(job["id"], timeout=120)
        result = maas.predict("iris-client", iris.data[:20])
        listed = maas.list_jobs(model_name="iris-client")
        resumed = list(maas.follow(job["id"], last_event_id=events[2].id))
        after_the_end = list(maas.follow(job["id"], last_event_id=events[-1].id))

    assert [e.data["epoch"] for e in events if e.event == "progress"] == [1, 2, 3]
    assert events[-1].is_terminal and events[-1].data["model"] == {"name": "iris-client", "version": 1}
    assert done["status"] == "succeeded" and done["model"] == {"name": "iris-client", "version": 1}
    assert result.version == 1 and result.predictions.shape == (20, 3)
    assert np.allclose(result.predictions.sum(axis=1), 1, atol=1e-4)
    assert set(result.classes) <= {"setosa", "versicolor", "virginica"}
    assert [j["id"] for j in listed] == [job["id"]]
    assert resumed == events[3:] and after_the_end == []


def test_errors_are_typed_and_name_the_problem(server: Server) -> None:
    with MaasClient(server.url, api_key="") as maas:
        with pytest.raises(NotFound) as missing:
            maas.get_model("never-trained")
        with pytest.raises(InvalidRequest) as invalid:
            maas.train(iris_spec(model_name="Bad Name!"))

    assert missing.value.status == 404 and missing.value.code == "model_not_found"
    assert invalid.value.status == 422 and invalid.value.errors


def test_a_server_that_is_not_there_is_a_connection_error() -> None:
    with MaasClient(f"http://127.0.0.1:{free_port()}", api_key="") as maas, pytest.raises(MaasConnectionError):
        maas.list_models()
