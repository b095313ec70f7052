"""A Ray worker node dies mid-training: the job resumes from its last checkpoint on another node, with no epoch
missing and none done twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ray.cluster import LoopbackCluster, ray_server
from tests.support import digits_spec

pytestmark = pytest.mark.ray


def test_a_lost_node_resumes_the_job_from_its_checkpoint_on_another_node(tmp_path: Path) -> None:
    cluster = LoopbackCluster()
    server = None
    try:
        doomed = cluster.add_worker(cpus=1)
        server = ray_server(cluster, tmp_path / "data", tmp_path / "server.log")
        # No seed: a job restarted from epoch 0 would give different losses for its first epochs.
        job = server.train(digits_spec(model_name="survivor", seed=None, fit={"epochs": 25, "batch_size": 8}))
        before = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 3)
        assert cluster.node_running(before["worker"]["pid"]) is doomed
        cluster.add_worker(cpus=1)  # where the job can go once its node is gone
        cluster.remove_worker(doomed)

        done = server.wait_finished(job["id"], timeout=240)
        # An epoch is recorded, then checkpointed: the kill may fall between the two for the last epoch seen.
        resumed_at = done["resumed_from"]["epoch"]
        assert done["attempts"] == 2 and resumed_at >= before["progress"]["epoch"] - 1 >= 2
        loss = done["metrics"]["history"]["loss"]
        assert len(loss) == 25, "no epoch missing, none doubled"
        kept = before["metrics"]["history"]["loss"][:resumed_at]
        assert loss[: len(kept)] == kept, "epochs before the checkpoint were kept, not rerun"
        assert done["model"] == {"name": "survivor", "version": 1}
    finally:
        if server is not None:
            server.stop()
        cluster.shutdown()
