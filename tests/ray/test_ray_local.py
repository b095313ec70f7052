"""MAAS_EXECUTOR=ray without MAAS_RAY_ADDRESS: maas starts its own Ray, on loopback only, and runs jobs on it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.server import Server
from tests.support import iris_spec

pytestmark = pytest.mark.ray


def listening_addresses(pid: int) -> set[str]:
    """Local addresses of the TCP sockets that process `pid` and its descendants listen on (`ss`)."""
    tree = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    out = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
    return {
        line.split()[3].rsplit(":", 1)[0]
        for line in out.splitlines()
        if any(f"pid={p}," in line for p in [str(pid), *tree])
    }


def test_a_private_ray_runs_jobs_and_listens_on_loopback_only(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", tmp_path / "server.log", MAAS_EXECUTOR="ray")
    try:
        done = server.wait_finished(server.train(iris_spec(epochs=3, model_name="private-ray"))["id"])
        assert done["model"] == {"name": "private-ray", "version": 1}
        addresses = listening_addresses(server.proc.pid)
        assert addresses and addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, addresses
    finally:
        assert server.stop() == 0, "SIGTERM is still a clean stop with Ray in the process"
