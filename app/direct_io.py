"""Files written and read around the page cache (O_DIRECT), for big files that a process writes once and reads
back itself, such as a training job's row cache.

Buffered, such a file costs the kernel dearly: every page written is a fresh page-cache page to zero and copy into,
and a file bigger than what the page cache keeps is evicted and read from disk again, copied once more. On the
2-core VM of docs/benchmarks.md, writing 2 GiB took 22.8 s of system time buffered against 0.17 s direct, and
reading back 4 GiB not cached took 10.2 s of CPU against 0.09 s direct (2.7 s wall, at the disk's 1.5 GB/s).
Direct I/O wants the buffer's address, the file offset and the length to be multiples of the disk's logical
block; `ALIGN` (4 KiB) is a multiple of every common one. Where the filesystem refuses O_DIRECT (tmpfs, or
systems without it) the file is opened buffered, and the same aligned calls work there too.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys
import threading
from pathlib import Path

import numpy as np

ALIGN = 4096
O_DIRECT: int = getattr(os, "O_DIRECT", 0)


def align_up(size: int, to: int = ALIGN) -> int:
    return -(-size // to) * to


def open_direct(path: Path, flags: int, mode: int = 0o600) -> tuple[int, bool]:
    """(descriptor, whether it bypasses the page cache): `path` opened with `flags` and O_DIRECT where the
    filesystem allows it, else without."""
    if O_DIRECT:
        try:
            return os.open(path, flags | O_DIRECT, mode), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return os.open(path, flags, mode), False


class AlignedBuffers:
    """Page-aligned buffers, each handed out again once no array refers to it any more. Memory used before is
    already there: a direct read into fresh memory has the kernel fault in and zero its pages inside the read (perf,
    a streamed TensorFlow epoch's input: a fifth of its time in `clear_page` under `preadv`), and so does every
    fresh array big enough for malloc to map it. Each buffer is a mapping of its own, not malloc's: a job child's
    heap keeps what it frees (app/heap.py), and tens of MB freed there in between smaller allocations left holes
    that the next buffer did not fit, so the heap grew epoch by epoch. At most `count` are kept; a user that holds
    more at once gets fresh ones beyond them, unmapped when freed."""

    FREE_REFS = 3  # the list's reference, the loop's and getrefcount's own: no view of the buffer is alive

    def __init__(self, count: int) -> None:
        self.count = count
        self._raw: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> np.ndarray:
        """`size` bytes at a page-aligned address, in a buffer nothing else refers to."""
        with self._lock:
            for raw in self._raw:
                if raw.nbytes >= size and sys.getrefcount(raw) == self.FREE_REFS:
                    return raw[:size]
            raw = np.frombuffer(mmap.mmap(-1, align_up(max(size, 1), mmap.PAGESIZE)), np.uint8)
            if len(self._raw) < self.count:
                self._raw.append(raw)
            return raw[:size]


def write_at(fd: int, data: np.ndarray, offset: int) -> None:
    """All of `data`'s bytes at `offset` (aligned, for a direct descriptor)."""
    view = memoryview(data).cast("B")
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def read_at(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill `out` from `offset`; EOFError where the file ends first."""
    view = memoryview(out).cast("B")
    while view:
        done = os.preadv(fd, [view], offset)
        if done == 0:
            raise EOFError(f"the file ends before byte {offset + len(view)}")
        view, offset = view[done:], offset + done
