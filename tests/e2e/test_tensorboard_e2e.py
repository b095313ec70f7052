"""TensorBoard logs: every job writes them, `GET /jobs/{id}/tensorboard` hands them over as a `.tar.gz`, and
what comes out is what TensorBoard reads (checked with TensorBoard's own event reader)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from app.jobs.store import JobStore
from app.jobs.tensorboard import tensorboard_dir
from app.main import create_app
from app.settings import Settings
from tests.e2e.server import MAAS, Server, maas_env
from tests.support import iris_spec


def scalars(run_dir: Path, tag: str) -> list[float]:
    """Values of a scalar as TensorBoard loads it (Keras 3 writes scalars as tensor summaries)."""
    import tensorflow as tf

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)]


def test_a_real_jobs_logs_come_as_an_archive_tensorboard_reads(server: Server, tmp_path: Path) -> None:
    job = server.wait_finished(server.train(iris_spec(3, model_name="iris-tb"))["id"])

    response = server.http.get(f"/jobs/{job['id']}/tensorboard")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    losses = scalars(tmp_path / job["id"] / "final" / "train", "epoch_loss")
    assert losses == pytest.approx(job["metrics"]["history"]["loss"], rel=1e-5)


def test_the_cli_unpacks_a_jobs_logs(server: Server, tmp_path: Path) -> None:
    job = server.wait_finished(server.train(iris_spec(2, model_name="iris-tb-cli"))["id"])
    env = maas_env(tmp_path / "cli", MAAS_URL=server.url)

    done = subprocess.run(
        [MAAS, "jobs", "tensorboard", job["id"], "--out", str(tmp_path / "logs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "tensorboard --logdir" in done.stdout
    assert list((tmp_path / "logs" / job["id"] / "final" / "train").glob("events.out.tfevents.*"))


def test_the_route_packs_summaries_written_into_the_jobs_folder_and_404s_before(settings: Settings) -> None:
    import tensorflow as tf

    with TestClient(create_app(settings)) as client:
        store = JobStore(settings.resolved_database_url)
        job = store.create_job("iris-mlp", iris_spec(2), epochs=2)
        before = client.get(f"/jobs/{job.id}/tensorboard")
        run_dir = tensorboard_dir(settings, job.id) / "final" / "train"
        with tf.summary.create_file_writer(str(run_dir)).as_default():
            for step, loss in enumerate([0.9, 0.4]):
                tf.summary.scalar("epoch_loss", loss, step=step)
        after = client.get(f"/jobs/{job.id}/tensorboard")
        unknown = client.get("/jobs/no-such-job/tensorboard")
        store.close()

    assert before.status_code == 404 and before.headers["content-type"] == "application/problem+json"
    assert "no TensorBoard logs" in before.json()["detail"]
    assert unknown.status_code == 404 and unknown.json()["code"] == "job_not_found"
    with tarfile.open(fileobj=io.BytesIO(after.content), mode="r:gz") as tar:
        names = tar.getnames()
        tar.extractall(settings.data_dir / "unpacked", filter="data")
    assert any(name.startswith(f"{job.id}/final/train/events.out.tfevents") for name in names)
    assert scalars(settings.data_dir / "unpacked" / job.id / "final" / "train", "epoch_loss") == pytest.approx(
        [0.9, 0.4]
    )
