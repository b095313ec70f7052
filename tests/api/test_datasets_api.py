"""The datasets endpoints against the real app: uploads in every format, refusals as problems, use by /train."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from app.main import create_app
from app.settings import Settings
from tests.api.test_train_api import assert_problem
from tests.support import iris_spec

SPECIES = ["setosa", "versicolor", "virginica"]


def iris_csv() -> bytes:
    """Iris with its species as string labels, the label column in the middle."""
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame.insert(2, "species", [SPECIES[i] for i in iris.target])
    return frame.to_csv(index=False).encode()


def upload(client: TestClient, filename: str, content: bytes, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/datasets", files={"file": (filename, content)}, data=fields)


def uploaded(client: TestClient, filename: str, content: bytes, **fields: str) -> dict:
    response = upload(client, filename, content, **fields)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/datasets/{response.json()['id']}"
    return response.json()


def test_csv_with_string_labels_keeps_the_names_and_trains(client: TestClient) -> None:
    dataset = uploaded(client, "iris.csv", iris_csv(), name="iris-csv", target="species")
    assert dataset["classes"] == SPECIES and dataset["task"] == "classification"
    assert (dataset["format"], dataset["rows"], dataset["feature_shape"]) == ("csv", 150, [4])
    assert dataset["features"] == ["sepal_l", "sepal_w", "petal_l", "petal_w"] and dataset["target"] == "species"

    job = client.post("/train", json=iris_spec(dataset={"id": dataset["id"]}))
    assert job.status_code == 202, job.text
    spec = iris_spec(dataset={"id": dataset["id"]})
    spec["model"]["layers"][-1]["units"] = 2
    body = assert_problem(client.post("/train", json=spec), 422)
    assert body["code"] == "invalid_spec" and "3 classes" in body["detail"]


def test_train_on_an_unknown_dataset_id_is_a_404(client: TestClient) -> None:
    spec = iris_spec(dataset={"id": "7e0e4a52-4b51-4f1e-9a3c-1d2a0b9c8e7f"})
    assert assert_problem(client.post("/train", json=spec), 404)["code"] == "dataset_not_found"


def test_regression_csv(client: TestClient) -> None:
    rows = "\n".join(f"{i},{i % 7},{i * 0.37:.2f}" for i in range(40))
    dataset = uploaded(client, "prices.csv", f"rooms,floor,price\n{rows}\n".encode(), name="prices", target="price")
    assert dataset["task"] == "regression" and dataset["classes"] is None and dataset["feature_shape"] == [2]


def test_task_field_forces_regression_on_integer_targets(client: TestClient) -> None:
    content = b"a,count\n1,3\n2,5\n3,3\n"
    dataset = uploaded(client, "counts.csv", content, name="counts", target="count", task="regression")
    assert dataset["task"] == "regression"
    assert_problem(upload(client, "counts.csv", content, name="counts", target="count", task="ranking"), 422)


def test_parquet_upload(client: TestClient) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [0.1, 0.2, 0.3], "ok": [True, False, True]}).to_parquet(buffer)
    dataset = uploaded(client, "flags.parquet", buffer.getvalue(), name="flags", target="ok")
    assert (dataset["format"], dataset["classes"], dataset["feature_shape"]) == ("parquet", ["False", "True"], [1])


def test_npz_upload(client: TestClient) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((5, 8, 8), np.float32), y=np.array([1, 0, 2, 2, 1]))
    dataset = uploaded(client, "tiny.npz", buffer.getvalue(), name="tiny")
    assert (dataset["format"], dataset["feature_shape"], dataset["classes"]) == ("npz", [8, 8], ["0", "1", "2"])
    assert dataset["target"] is None and dataset["features"] is None


def test_npz_object_array_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([[{"a": 1}], [{"b": 2}]], dtype=object), y=np.array([0, 1]))
    body = assert_problem(upload(client, "evil.npz", buffer.getvalue(), name="evil"), 422)
    assert body["code"] == "invalid_upload" and "never Python objects" in body["detail"]


def test_nan_feature_is_refused_naming_column_and_row(client: TestClient) -> None:
    body = assert_problem(upload(client, "d.csv", b"a,b,y\n1,2,x\n3,,z\n", name="d", target="y"), 422)
    assert body["errors"] == [
        {"loc": ["file", "b", 1], "msg": "feature column 'b' holds a missing value (NaN) in row 1"}
    ]


def test_non_numeric_feature_is_refused_naming_the_column(client: TestClient) -> None:
    body = assert_problem(upload(client, "d.csv", b"a,color,y\n1,red,x\n2,blue,z\n", name="d", target="y"), 422)
    assert "feature column 'color' is not numeric" in body["detail"]


def test_missing_target_lists_the_columns(client: TestClient) -> None:
    body = assert_problem(upload(client, "d.csv", b"a,b,y\n1,2,x\n", name="d", target="label"), 422)
    assert body["detail"] == "no target column 'label'; the file's columns are ['a', 'b', 'y']"


@pytest.mark.parametrize(
    ("filename", "content", "fields", "expected"),
    [
        ("d.csv", b"", {"name": "d", "target": "y"}, "the uploaded file is empty"),
        ("d.xlsx", b"a,y\n1,x\n", {"name": "d", "target": "y"}, "must end in .csv, .parquet or .npz"),
        ("d.npz", b"PK not really a zip", {"name": "d"}, "not an .npz (zip) archive"),
        ("d.csv", b"a,y\n1,x\n", {"target": "y"}, "form field 'name'"),
        ("d.csv", b"a,y\n1,x\n", {"name": "../etc", "target": "y"}, "invalid dataset name"),
        ("d.csv", b"a,y\n1,x\n", {"name": "d", "target": "y", "labels": "y"}, "unknown form field(s) ['labels']"),
    ],
)
def test_unusable_uploads_are_422_problems(
    client: TestClient, filename: str, content: bytes, fields: dict[str, str], expected: str
) -> None:
    assert expected in assert_problem(upload(client, filename, content, **fields), 422)["detail"]


def test_a_body_that_is_neither_multipart_nor_json_is_a_400(client: TestClient) -> None:
    body = assert_problem(
        client.post("/datasets", content=b"x", headers={"content-type": "application/octet-stream"}), 400
    )
    assert body["code"] == "malformed_body"


@pytest.fixture
def tiny_limit_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, max_upload_mb=0.01)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_upload_over_the_limit_is_a_413_and_leaves_nothing_behind(
    tiny_limit_client: TestClient, tmp_path: Path
) -> None:
    content = b"a,y\n" + b"1,x\n" * 5000
    body = assert_problem(upload(tiny_limit_client, "big.csv", content, name="big", target="y"), 413)
    assert body["code"] == "too_large" and "MAAS_MAX_UPLOAD_MB" in body["detail"]
    assert list((tmp_path / "data" / "datasets" / ".staging").iterdir()) == []
    assert tiny_limit_client.get("/datasets").json() == []
    uploaded(tiny_limit_client, "small.csv", b"a,y\n1,x\n2,z\n", name="small", target="y")


def test_list_read_and_delete(client: TestClient) -> None:
    first = uploaded(client, "a.csv", b"a,y\n1,x\n2,z\n", name="first", target="y")
    second = uploaded(client, "b.csv", b"a,y\n1,x\n3,z\n", name="second", target="y")
    assert [d["id"] for d in client.get("/datasets").json()] == [second["id"], first["id"]]
    assert client.get(f"/datasets/{first['id']}").json() == first

    deleted = client.delete(f"/datasets/{first['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert assert_problem(client.get(f"/datasets/{first['id']}"), 404)["code"] == "dataset_not_found"
    assert_problem(client.delete(f"/datasets/{first['id']}"), 404)
    assert [d["id"] for d in client.get("/datasets").json()] == [second["id"]]


def test_unknown_or_path_like_ids_are_404(client: TestClient) -> None:
    for dataset_id in ("nope", "..", "%2e%2e%2fregistry"):
        assert_problem(client.get(f"/datasets/{dataset_id}"), 404)
        assert_problem(client.delete(f"/datasets/{dataset_id}"), 404)


def test_delete_while_a_queued_job_uses_it_is_a_409(client: TestClient) -> None:
    dataset = uploaded(client, "iris.csv", iris_csv(), name="iris-csv", target="species")
    job = client.post("/train", json=iris_spec(dataset={"id": dataset["id"]})).json()
    assert job["status"] == "queued"

    body = assert_problem(client.delete(f"/datasets/{dataset['id']}"), 409)
    assert body["code"] == "dataset_in_use" and "1 queued or running job" in body["detail"]
    client.post(f"/jobs/{job['id']}/cancel")
    assert client.delete(f"/datasets/{dataset['id']}").status_code == 204


def test_the_same_data_uploaded_twice_has_the_same_sha256(client: TestClient) -> None:
    first = uploaded(client, "iris.csv", iris_csv(), name="iris-a", target="species")
    second = uploaded(client, "iris.csv", iris_csv(), name="iris-b", target="species")
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"] and first["file_sha256"] == second["file_sha256"]


def test_the_upload_form_in_openapi_names_every_format(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/datasets"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert form["file"]["description"] == ".csv, .parquet or .npz"
    assert form["target"]["description"] == "The label column of a .csv or .parquet."
    assert operation["description"] == "Upload a CSV, Parquet or NPZ file as a dataset to train on."
