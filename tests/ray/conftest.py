"""Fixtures of the Ray tier: a real loopback Ray cluster, and `maas serve` submitting its jobs to it."""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.server import Server
from tests.ray.cluster import LoopbackCluster, ray_environment, ray_server

# Before Ray is first imported in this process (it reads its auth mode then), and inherited by every node and
# `maas serve` the tests start. One token and one temporary directory for the session.
RAY_ENV = ray_environment()
os.environ.update(RAY_ENV)
atexit.register(shutil.rmtree, RAY_ENV["RAY_TMPDIR"], ignore_errors=True)  # after the clusters' own exit hooks
pytest.importorskip("ray", reason="the Ray tier needs Ray: pip install -e '.[ray]'")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    """A head without CPUs and one 1-CPU worker node, shared by a module's tests."""
    ray_cluster = LoopbackCluster()
    try:
        ray_cluster.add_worker(cpus=1)
        yield ray_cluster
    finally:
        ray_cluster.shutdown()


@pytest.fixture(scope="module")
def server(cluster: LoopbackCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("maas-ray")
    srv = ray_server(cluster, root / "data", root / "server.log")
    yield srv
    srv.stop()
