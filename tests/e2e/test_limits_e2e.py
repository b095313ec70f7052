"""Time limits: a job past its `max_runtime_s` (or MAAS_JOB_TIMEOUT_S) is stopped and failed with the reason."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.server import TERMINAL, Server
from tests.support import digits_spec


def test_a_job_past_its_time_limit_fails_with_the_reason(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log", MAAS_JOB_TIMEOUT_S="600")
    try:
        spec = digits_spec(model_name="slow", max_runtime_s=10, fit={"epochs": 1000, "batch_size": 8})
        job = server.wait_for(server.train(spec)["id"], lambda j: j["status"] in TERMINAL, timeout=120)
        assert job["status"] == "failed" and job["error"]["type"] == "Timeout"
        assert "limit of 10 s" in job["error"]["message"]
        assert len(job["metrics"]["history"].get("loss", [])) < 1000
        assert server.http.get("/models/slow").status_code == 404
        assert not (data_dir / "jobs" / job["id"] / "checkpoints").exists()
    finally:
        server.stop()
