"""A real multi-node Ray cluster on this machine's loopback, for the Ray tier: a head without CPUs (so jobs
never land on it and the maas driver's node is never the one a test removes) and worker nodes that can be added
and removed while a job trains.

Every process is bound to 127.0.0.1, keeps its files in its own temporary directory (not the machine-wide
/tmp/ray) and requires a token generated per cluster (Ray's token authentication, on by default in 2.60).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from tests.e2e.server import Server

LOOPBACK = "127.0.0.1"


def ray_environment() -> dict[str, str]:
    """What every process of the cluster, the tests and `maas serve` need in their environment. Ray reads it
    when it is imported, so the test process must have it before its first `import ray`."""
    # Short: Ray's unix socket paths must fit in 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="maas-ray-", dir="/tmp")
    return {
        "RAY_TMPDIR": temp_dir,  # Ray's session files and its "current cluster" file, out of the shared /tmp/ray
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        # Keep Ray from swapping 127.0.0.1 for the machine's network address (see app/worker/ray/executor.py).
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",  # never phone home
    }


class LoopbackCluster:
    """`ray.cluster_utils.Cluster` on 127.0.0.1: a CPU-less head plus `add_worker()` nodes."""

    def __init__(self) -> None:
        assert os.environ.get("RAY_AUTH_MODE") == "token", "set ray_environment() before importing Ray"
        from ray.cluster_utils import Cluster

        self._cluster = Cluster(
            initialize_head=True,
            head_node_args={"node_ip_address": LOOPBACK, "num_cpus": 0, "include_dashboard": False},
        )
        self.workers: list[Any] = []

    @property
    def address(self) -> str:
        return self._cluster.address

    def add_worker(self, cpus: int = 1) -> Any:
        node = self._cluster.add_node(node_ip_address=LOOPBACK, num_cpus=cpus)
        self.workers.append(node)
        return node

    def remove_worker(self, node: Any) -> None:
        """What a lost machine looks like: every process of the node is SIGKILLed, no goodbye."""
        self.workers.remove(node)
        self._cluster.remove_node(node, allow_graceful=False)

    def node_running(self, pid: int) -> Any | None:
        """The worker node whose raylet started process `pid` (Ray workers are its children)."""
        stat = _stat(pid)
        if stat is None:
            return None
        parent = int(stat[1])
        return next((n for n in self.workers if parent in _raylet_pids(n)), None)

    def shutdown(self) -> None:
        self._cluster.shutdown()


def ray_server(cluster: LoopbackCluster, data_dir: Path, log_path: Path, **env: str) -> Server:
    """`maas serve` whose supervisor runs every job as a task on `cluster`."""
    return Server(data_dir, log_path, MAAS_EXECUTOR="ray", MAAS_RAY_ADDRESS=cluster.address, **env)


def _raylet_pids(node: Any) -> set[int]:
    return {info.process.pid for info in node.all_processes.get("raylet", [])}


def _stat(pid: int) -> list[str] | None:
    """State and parent pid of a live process, from /proc (Linux): [state, ppid, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_gone(pid: int) -> bool:
    """Exited (a zombie waiting to be reaped counts as gone: it holds no memory and runs nothing)."""
    stat = _stat(pid)
    return stat is None or stat[0] == "Z"
