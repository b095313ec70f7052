"""A real `maas` process for end-to-end tests: started by its console script, on loopback, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

MAAS = str(Path(sys.executable).with_name("maas"))
TERMINAL = {"succeeded", "failed", "cancelled", "pruned"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def maas_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env["MAAS_GRPC_PORT"] = "0"  # gRPC off unless a test turns it on: every server would want port 8001
    env.update(
        MAAS_DATA_DIR=str(data_dir),
        MAAS_HOST="127.0.0.1",
        MAAS_HEARTBEAT_INTERVAL_S="0.5",
        MAAS_POLL_INTERVAL_S="0.2",
        TF_CPP_MIN_LOG_LEVEL="2",
        # The backends' own tests (test_backends.py) pick JAX; the rest keep one warm TensorFlow child, as before JAX
        # was the default, so that multi-job tests (sweeps) stay within their time on two cores.
        MAAS_KERAS_BACKEND="tensorflow",
        **overrides,
    )
    return env


class MaasProcess:
    """`maas serve` or `maas worker` in its own process group, its output in a log file for post-mortems."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [MAAS, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL of the whole group if it does not exit in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stray children, if any
        except ProcessLookupError:
            pass
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class Server(MaasProcess):
    def __init__(self, data_dir: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port)], maas_env(data_dir, **env), log_path)
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"maas serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"maas serve did not become healthy:\n{self.log()}")

    def stop(self, timeout: float = 30) -> int:
        self.http.close()
        return super().stop(timeout)

    def train(self, spec: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/train", json=spec)
        assert response.status_code == 202, response.text
        return response.json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.http.get(f"/jobs/{job_id}").json()

    def wait_for(self, job_id: str, done: Any, timeout: float = 180) -> dict[str, Any]:
        """Poll the job until `done(job)` holds; fail with the server log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if done(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never got there; last state {job}\n{self.log()}")

    def wait_finished(self, job_id: str, timeout: float = 180) -> dict[str, Any]:
        job = self.wait_for(job_id, lambda j: j["status"] in TERMINAL, timeout)
        assert job["status"] == "succeeded", f"{job['error']}\n{self.log()}"
        return job
