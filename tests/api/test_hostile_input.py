"""Hostile input through the real HTTP API: each answer is a 4xx that names the problem, the process's memory
stays flat, and the server still answers afterwards."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

GROWTH_LIMIT_KB = 150 * 1024


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM): the app under TestClient runs in it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux `clear_refs` 5), so that growth is measured from here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # where it cannot be reset, growth is measured from the peak so far, which only makes the test laxer


@pytest.fixture
def peak_growth_kb() -> Iterator[list[int]]:
    """After the test body, [growth of VmHWM in KiB] (filled in on exit), asserted under GROWTH_LIMIT_KB."""
    reset_peak_rss()
    before = peak_rss_kb()
    growth: list[int] = []
    yield growth
    growth.append(peak_rss_kb() - before)
    assert growth[0] < GROWTH_LIMIT_KB, f"peak RSS grew by {growth[0] // 1024} MiB"


def gzip_bomb(inflated_mib: int) -> bytes:
    """A gzip body of `inflated_mib` MiB of zeros, compressed a MiB at a time (never held inflated here)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(2**20)
    return b"".join([*(packer.compress(chunk) for _ in range(inflated_mib)), packer.flush()])


def test_a_gzip_bomb_on_v2_infer_is_413_and_memory_stays_flat(served: TestClient, peak_growth_kb: list[int]) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB inflated, about 1 MiB on the wire
    assert len(bomb) < 2 * 2**20
    response = served.post("/v2/models/iris-mlp/infer", content=bomb, headers={"content-encoding": "gzip"})
    assert response.status_code == 413, response.text
    assert set(response.json()) == {"error"}
    assert "inflates to more than" in response.json()["error"] and "MAAS_MAX_REQUEST_MB" in response.json()["error"]
    small = zlib.compress(b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}')
    after = served.post("/v2/models/iris-mlp/infer", content=small, headers={"content-encoding": "deflate"})
    assert after.status_code == 200, after.text
