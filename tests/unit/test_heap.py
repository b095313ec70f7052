"""A job's child reuses the memory it frees: arrays of tens of MB allocated and freed over and over fault in
(and the kernel zeroes) almost no fresh pages once the first few are made."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh interpreter, with transparent huge pages off so that each fault is one 4 KiB page: arrays of a
# streamed chunk's size (6,000-8,192 rows of 784 float32), each copied in part, three kept alive at a time as a
# read-ahead queue holds them; prints the pages touched and the faults taken over the second half of the run.
CHURN = """
import collections, ctypes, resource, sys
import numpy as np
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE
if sys.argv[1] == "keep":
    from app.heap import keep_freed_memory
    assert keep_freed_memory()
rng = np.random.default_rng(0)
held = collections.deque(maxlen=3)
touched = 0
for i in range(80):
    if i == 40:
        faults, touched = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, 0
    rows = int(rng.integers(6000, 8192))
    chunk = np.ones((rows, 784), np.float32)
    held.append(chunk[: rows * 9 // 10].copy())
    touched += (rows + rows * 9 // 10) * 784 * 4 // 4096
print(touched, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
"""


def churn(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    touched, faults = out.stdout.split()
    return int(touched), int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and Linux fault counters")
def test_freed_arrays_are_reused_instead_of_faulted_in_again() -> None:
    touched, faults = churn("keep")
    # glibc's defaults fault in ~15 % of the pages touched here, every chunk mapped or the heap trimmed afresh
    assert faults < 0.05 * touched, (faults, touched)
