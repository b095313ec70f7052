"""A job's child keeps the memory it frees for its next allocations instead of handing it back to the system.

A streamed epoch allocates arrays of tens of MB by the thousand (8,192 rows of 784 float32 read back from the row
cache, their training rows, the shuffle buffer's draws), and frees them as fast. glibc's malloc serves such sizes
from fresh mappings or gives the top of its heap back once 2x its mmap threshold lies free, so the next array's
pages are faulted and zeroed by the kernel again: 18 % of the reading thread's time in `clear_page` (perf, steady
epochs of 1.3M x 784). Kept, a read-back epoch's reading thread (`bench/stream_reader.py --target`, no training,
2-core VM) took a median 2.54 CPU-s against 2.79. A child lives for one job, so holding on to its high-water mark
costs nothing after it exits.
"""

from __future__ import annotations

import ctypes

# mallopt(3) parameters and the values set
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
NEVER_TRIM = -1
LARGEST_MMAP_THRESHOLD = 32 * 2**20  # as high as glibc's own threshold rises on 64-bit; bigger ones still mapped


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve allocations up to 32 MiB from its heap and never trim it; False where the C
    library has no mallopt (not glibc) or refuses a value."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGEST_MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
