"""Two `maas serve` replicas that share no directory: one database, and the registry and uploaded datasets on
S3 (a local moto server). A dataset uploaded to one replica trains on the other's worker, and the model that
worker publishes is served by both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import s3fs
from sklearn.datasets import load_iris

from tests.api.test_datasets_api import iris_csv
from tests.e2e.server import Server
from tests.support import iris_spec


def test_replicas_without_a_shared_directory_share_datasets_and_models_through_s3(
    s3_env: dict[str, str], s3_bucket: str, tmp_path: Path
) -> None:
    shared = {
        **s3_env,
        "MAAS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "MAAS_REGISTRY_DIR": f"{s3_bucket}/registry",
        "MAAS_DATASETS_LOCATION": f"{s3_bucket}/datasets",
    }
    trainer = Server(tmp_path / "trainer", tmp_path / "trainer.log", MAAS_WORKERS="1", **shared)
    api = Server(tmp_path / "api", tmp_path / "api.log", MAAS_WORKERS="0", **shared)
    try:
        uploaded = api.http.post(
            "/datasets", files={"file": ("iris.csv", iris_csv())}, data={"name": "iris", "target": "species"}
        )
        assert uploaded.status_code == 201, uploaded.text
        dataset_id = uploaded.json()["id"]
        assert trainer.http.get(f"/datasets/{dataset_id}").json()["rows"] == 150

        job = api.train(iris_spec(epochs=5, model_name="iris-s3", dataset={"id": dataset_id}))
        done = trainer.wait_finished(job["id"])
        assert done["worker"]["id"].split(":")[1] == str(trainer.proc.pid)  # trained where the data was not

        rows = load_iris().data[:5].tolist()
        answers = [s.http.post("/predict", json={"model": "iris-s3", "instances": rows}) for s in (api, trainer)]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        np.testing.assert_array_equal(answers[0].json()["predictions"], answers[1].json()["predictions"])
        assert answers[0].json()["classes"][0] == "setosa"
        assert api.http.get("/models/iris-s3").json()["versions"][0]["job_id"] == job["id"]

        bucket = s3fs.S3FileSystem()
        assert bucket.exists(f"{s3_bucket}/registry/iris-s3/1/metadata.json")
        assert bucket.exists(f"{s3_bucket}/datasets/{dataset_id}/data.npz")
        for replica in ("trainer", "api"):
            assert not (tmp_path / replica / "registry").exists() and not (tmp_path / replica / "datasets").exists()
    finally:
        trainer.stop()
        api.stop()
