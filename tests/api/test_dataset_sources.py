"""Registering Parquet/CSV sources (POST /datasets with a JSON body) on local files and on S3 (moto): the allow-list,
the profile job's results against numpy, the errors that name file, column and row, the 409 for data that is not
ready, and deleting while profiling.

The app runs no workers; a test runs the queued profile job with the worker's own child entry (`run_job`) in this
process, after claiming it as a supervisor would: the same code a spawned child runs, without the spawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.worker.job_run import run_job
from tests.api.test_train_api import assert_problem
from tests.support import iris_spec

ROWS, FEATURES = 30_000, 12


def table(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Features of different scales and offsets (so a wrong mean or std shows) and a text label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)) * np.arange(1, FEATURES + 1) + np.arange(FEATURES) * 10
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, rows)]
    return frame


def write_parquet_parts(frame: pd.DataFrame, folder: Path, parts: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[part].to_parquet(folder / f"part-{index}.parquet", row_group_size=4000)


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    return tmp_path / "sources"


@pytest.fixture
def client(tmp_path: Path, sources: Path) -> Iterator[TestClient]:
    sources.mkdir()
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, dataset_sources=f"file://{sources}/")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def register(client: TestClient, source: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "big", "source": source, "format": "parquet", "target": "label", **fields}
    response = client.post("/datasets", json=body)
    assert response.status_code == 202, response.text
    info = response.json()
    assert response.headers["location"] == f"/datasets/{info['id']}"
    assert info["status"] == "profiling" and info["rows"] is None
    return info


def run_profile_job(client: TestClient) -> dict[str, Any]:
    """Claim the queued profile job and run it as a worker's child does; returns the job as the API shows it."""
    store = client.app.state.store  # type: ignore[attr-defined]
    job = store.claim_next("test-worker")
    assert job is not None and job.kind == "profile"
    run_job(job.id, client.app.state.settings)  # type: ignore[attr-defined]
    return client.get(f"/jobs/{job.id}").json()


def profiled(client: TestClient, source: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the dataset after its profile job, the job)."""
    info = register(client, source, **fields)
    job = run_profile_job(client)
    return client.get(f"/datasets/{info['id']}").json(), job


def assert_profile_matches(info: dict[str, Any], frame: pd.DataFrame) -> None:
    x = frame.drop(columns="label").to_numpy(np.float32).astype(np.float64)
    assert info["status"] == "ready" and info["error"] is None
    assert (info["rows"], info["feature_shape"], info["task"]) == (len(frame), [FEATURES], "classification")
    assert info["features"] == [f"f{i}" for i in range(FEATURES)] and info["classes"] == ["cat", "dog", "eel"]
    np.testing.assert_allclose(info["feature_mean"], x.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(info["feature_std"], x.std(axis=0), rtol=1e-9)


def test_a_parquet_prefix_registers_and_its_profile_job_makes_it_ready(client: TestClient, sources: Path) -> None:
    frame = table()
    write_parquet_parts(frame, sources / "train")
    (sources / "train" / "notes.txt").write_text("not data")
    info = register(client, f"file://{sources}/train/")
    assert info["source"] == f"file://{sources}/train/"
    assert info["files"] == [f"file://{sources}/train/part-{i}.parquet" for i in range(3)]  # sorted, no .txt
    assert info["bytes"] == sum((sources / "train" / f"part-{i}.parquet").stat().st_size for i in range(3))
    assert [j["id"] for j in client.get("/jobs", params={"kind": "profile"}).json()] != []
    assert client.get("/datasets").json()[0]["status"] == "profiling"

    job = run_profile_job(client)
    assert job["status"] == "succeeded" and job["kind"] == "profile"
    assert job["progress"]["rows"] == job["progress"]["total_rows"] == ROWS
    ready = client.get(f"/datasets/{info['id']}").json()
    assert_profile_matches(ready, frame)
    assert len(ready["sha256"]) == 64
    assert client.get("/datasets").json()[0]["status"] == "ready"


def test_a_csv_glob_profiles_as_the_same_table_in_parquet_does(client: TestClient, sources: Path) -> None:
    frame = table(rows=9000, seed=1)
    write_parquet_parts(frame, sources / "pq")
    (sources / "csv").mkdir()
    for index, part in enumerate(np.array_split(np.arange(len(frame)), 2)):
        frame.iloc[part].to_csv(sources / "csv" / f"part-{index}.csv", index=False)
    from_csv, _ = profiled(client, f"file://{sources}/csv/part-*.csv", format="csv")
    from_parquet, _ = profiled(client, f"file://{sources}/pq/")
    assert_profile_matches(from_csv, frame)
    assert from_csv["format"] == "csv" and len(from_csv["files"]) == 2
    assert from_csv["sha256"] == from_parquet["sha256"]  # a hash of the content, not of the files
    np.testing.assert_allclose(from_csv["feature_std"], from_parquet["feature_std"], rtol=1e-12)


def test_a_numeric_target_gets_the_task_an_upload_would(client: TestClient, sources: Path) -> None:
    frame = table(rows=2000).drop(columns="label")
    frame["price"] = np.linspace(0.5, 99.5, len(frame))
    frame["grade"] = np.arange(len(frame)) % 4
    frame.drop(columns="grade").to_parquet(sources / "prices.parquet")
    frame.drop(columns="price").to_parquet(sources / "grades.parquet")
    prices, _ = profiled(client, f"file://{sources}/prices.parquet", target="price")
    assert (prices["status"], prices["task"], prices["classes"]) == ("ready", "regression", None)
    grades, _ = profiled(client, f"file://{sources}/grades.parquet", target="grade")
    assert (grades["task"], grades["classes"]) == ("classification", ["0", "1", "2", "3"])
    as_numbers, _ = profiled(client, f"file://{sources}/grades.parquet", target="grade", task="regression")
    assert (as_numbers["task"], as_numbers["classes"]) == ("regression", None)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"source": "file:///etc/passwd"}, "source", "allowed: ['file://"),
        ({"source": "file://{sources}/../secret/"}, "source", "'..'"),
        ({"source": "file://{sources}-other/x.parquet"}, "source", "not under an allowed prefix"),
        ({"source": "s3://bucket/data/"}, "source", "not under an allowed prefix"),
        ({"source": "/srv/data/x.parquet"}, "source", "not a URL"),
        ({"source": "file://{sources}/empty/"}, "source", "no .parquet files under"),
        ({"source": "file://{sources}/missing.parquet"}, "source", "no file at"),
        ({"format": "xlsx"}, "format", "'csv' or 'parquet'"),
        ({"format": "npz"}, "format", "'csv' or 'parquet'"),
        ({"name": None}, "name", "Field required"),
        ({"target": None}, "target", "Field required"),
        ({"name": "Big Data"}, "name", "pattern"),
        ({"task": "clustering"}, "task", "'classification' or 'regression'"),
        ({"path": "/x"}, "path", "expected fields ['name', 'source', 'format', 'target', 'task']"),
    ],
)
def test_bad_registrations_are_422s_and_queue_nothing(
    client: TestClient, sources: Path, body: dict[str, Any], field: str, says: str
) -> None:
    write_parquet_parts(table(rows=100), sources / "data", parts=1)
    (sources / "empty").mkdir()
    (sources / "empty" / "x.csv").write_text("a,label\n1,2\n")  # of the other format
    request = {"name": "big", "source": f"file://{sources}/data/", "format": "parquet", "target": "label", **body}
    request = {k: v.format(sources=sources) if isinstance(v, str) else v for k, v in request.items() if v is not None}
    problem = assert_problem(client.post("/datasets", json=request), 422)
    assert says in problem["detail"] and [e["loc"] for e in problem["errors"]] == [[field]]
    assert client.get("/jobs").json() == [] and client.get("/datasets").json() == []


def test_no_source_is_allowed_when_the_allow_list_is_unset(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"")
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", workers=0, prewarm=False))) as client:
        body = {"name": "big", "source": f"file://{tmp_path}/x.parquet", "format": "parquet", "target": "label"}
        problem = assert_problem(client.post("/datasets", json=body), 422)
    assert "MAAS_DATASET_SOURCES is unset" in problem["detail"]


def test_a_symlink_out_of_an_allowed_prefix_is_not_followed(client: TestClient, sources: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_parquet_parts(table(rows=100), outside, parts=1)
    (sources / "link").symlink_to(outside)
    assert (
        "not under an allowed prefix"
        in assert_problem(
            client.post(
                "/datasets",
                json={"name": "x", "source": f"file://{sources}/link/", "format": "parquet", "target": "label"},
            ),
            422,
        )["detail"]
    )


def _missing_target(frame: pd.DataFrame, folder: Path) -> tuple[str, str]:
    frame.iloc[:100].to_parquet(folder / "a.parquet")
    frame.iloc[100:].drop(columns="label").to_parquet(folder / "b.parquet")
    return "b.parquet", "'label'"


def _not_parquet(frame: pd.DataFrame, folder: Path) -> tuple[str, str]:
    frame.iloc[:100].to_parquet(folder / "a.parquet")
    (folder / "b.parquet").write_text(frame.iloc[100:].to_csv(index=False))
    return "b.parquet", "as Parquet"


def _mixed_schemas(frame: pd.DataFrame, folder: Path) -> tuple[str, str]:
    frame.iloc[:100].to_parquet(folder / "a.parquet")
    frame.iloc[100:].rename(columns={"f3": "f3b"}).to_parquet(folder / "b.parquet")
    return "b.parquet", "missing ['f3'], unexpected ['f3b']"


def _text_feature(frame: pd.DataFrame, folder: Path) -> tuple[str, str]:
    frame.iloc[:100].to_parquet(folder / "a.parquet")
    rest = frame.iloc[100:].astype({"f5": str})
    rest.iloc[7, rest.columns.get_loc("f5")] = "n/a"
    rest.to_parquet(folder / "b.parquet")
    return "b.parquet", "feature column 'f5' is not numeric: row 107 holds 'n/a'"


def _infinite_value(frame: pd.DataFrame, folder: Path) -> tuple[str, str]:
    frame = frame.copy()
    frame.iloc[150, frame.columns.get_loc("f2")] = np.inf
    frame.iloc[:100].to_parquet(folder / "a.parquet")
    frame.iloc[100:].to_parquet(folder / "b.parquet")
    return "b.parquet", "feature column 'f2' holds inf in row 150"


@pytest.mark.parametrize("write", [_missing_target, _not_parquet, _mixed_schemas, _text_feature, _infinite_value])
def test_a_source_that_cannot_be_used_fails_naming_file_column_and_row(
    client: TestClient, sources: Path, write: Any
) -> None:
    folder = sources / "bad"
    folder.mkdir()
    file, says = write(table(rows=300), folder)
    info, job = profiled(client, f"file://{folder}/")
    assert info["status"] == "failed" and info["rows"] is None
    assert f"file://{folder}/{file}" in info["error"] and says in info["error"], info["error"]
    assert job["status"] == "failed" and info["error"] in job["error"]["message"]
    spec = iris_spec(dataset={"id": info["id"]})
    conflict = assert_problem(client.post("/train", json=spec), 409)
    assert conflict["code"] == "dataset_not_ready" and "failed" in conflict["detail"] and says in conflict["detail"]


def test_work_on_a_dataset_being_profiled_is_a_409_saying_its_status(client: TestClient, sources: Path) -> None:
    write_parquet_parts(table(rows=500), sources / "data", parts=1)
    info = register(client, f"file://{sources}/data/")
    for spec in (
        iris_spec(dataset={"id": info["id"]}),
        iris_spec(fit={"epochs": 1, "validation_data": {"id": info["id"]}}),
    ):
        conflict = assert_problem(client.post("/train", json=spec), 409)
        assert conflict["code"] == "dataset_not_ready" and "is profiling" in conflict["detail"]
    sweep = {
        "model_name": "s",
        "base": {k: v for k, v in iris_spec(dataset={"id": info["id"]}).items() if k != "model_name"},
        "search_space": {"optimizer.learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 1e-1}},
        "trials": 2,
    }
    assert assert_problem(client.post("/sweeps", json=sweep), 409)["code"] == "dataset_not_ready"
    assert [j["kind"] for j in client.get("/jobs").json()] == ["profile"]  # nothing else was queued


def test_deleting_a_dataset_being_profiled_cancels_its_job(client: TestClient, sources: Path) -> None:
    write_parquet_parts(table(rows=500), sources / "data", parts=1)
    info = register(client, f"file://{sources}/data/")
    assert client.delete(f"/datasets/{info['id']}").status_code == 204
    assert_problem(client.get(f"/datasets/{info['id']}"), 404)
    assert [j["status"] for j in client.get("/jobs", params={"kind": "profile"}).json()] == ["cancelled"]
    assert (sources / "data" / "part-0.parquet").is_file()  # the source's files are not ours to delete


def test_an_s3_source_profiles_into_an_s3_catalog(s3_bucket: str, s3_env: dict[str, str], tmp_path: Path) -> None:
    import s3fs

    frame = table(rows=12_000, seed=2)
    write_parquet_parts(frame, tmp_path / "local", parts=2)
    bucket = s3fs.S3FileSystem()
    for index in range(2):
        bucket.put_file(
            str(tmp_path / "local" / f"part-{index}.parquet"), f"{s3_bucket}/data/train/part-{index}.parquet"
        )
    settings = Settings(
        data_dir=tmp_path / "data",
        workers=0,
        prewarm=False,
        dataset_sources=f"{s3_bucket}/data/",
        datasets_location=f"{s3_bucket}/catalog",
    )
    with TestClient(create_app(settings)) as client:
        info, job = profiled(client, f"{s3_bucket}/data/train/")
        assert job["status"] == "succeeded", job["error"]
        assert info["files"] == [f"{s3_bucket}/data/train/part-{i}.parquet" for i in range(2)]
        assert_profile_matches(info, frame)
        assert bucket.exists(f"{s3_bucket}/catalog/{info['id']}/dataset.json")
        assert client.delete(f"/datasets/{info['id']}").status_code == 204
        assert client.get("/datasets").json() == []
    assert bucket.exists(f"{s3_bucket}/data/train/part-0.parquet")


def test_a_profile_job_cancelled_by_hand_leaves_the_dataset_failed_not_profiling(
    client: TestClient, sources: Path
) -> None:
    write_parquet_parts(table(rows=500), sources / "data", parts=1)
    info = register(client, f"file://{sources}/data/")
    (job,) = client.get("/jobs", params={"kind": "profile"}).json()
    assert client.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    settled = client.get(f"/datasets/{info['id']}").json()
    assert settled["status"] == "failed" and "was cancelled" in settled["error"]
    assert client.get("/datasets").json()[0]["status"] == "failed"
    assert client.delete(f"/datasets/{info['id']}").status_code == 204
