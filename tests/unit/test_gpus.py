"""How the local executor shares out GPUs: whole devices per job, free ones first, none for a job asking none."""

from __future__ import annotations

import pytest

from app.worker.gpus import GpuPool, visible_gpus


def test_jobs_get_free_devices_first_and_share_the_least_used_when_short() -> None:
    pool = GpuPool(["0", "1", "2"])
    assert pool.take("a", 2, running=[]) == ("0", "1")
    assert pool.take("b", 1, running=["a"]) == ("2",)
    assert pool.take("c", 0.5, running=["a", "b"]) == ("0",)  # a fraction is a whole device, shared
    assert pool.take("d", 0, running=["a", "b", "c"]) == ()


def test_devices_of_jobs_no_longer_running_are_free_again() -> None:
    pool = GpuPool(["0", "1"])
    pool.take("a", 2, running=[])
    assert pool.take("b", 2, running=[]) == ("0", "1")
    assert pool.take("c", 5, running=["b"]) == ("0", "1"), "never more devices than there are"


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert visible_gpus() == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []
