"""Keep TensorFlow's native start-up chatter (oneDNN notices, "could not find cuda drivers") off the console.

TensorFlow 2.21 writes those lines through absl before absl's logging is initialised, straight to file descriptor
2, so `TF_CPP_MIN_LOG_LEVEL` no longer hides them. While a heavy import runs, fd 2 is pointed at a pipe whose
reader forwards every line except absl's INFO and WARNING ones (`I0000 ...`, `W0000 ...`) to the real stderr:
errors and everything Python or other threads print in that window still get through. With the root logger at
DEBUG (`MAAS_LOG_LEVEL=DEBUG`) nothing is filtered.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CHATTER = re.compile(
    rb"^([IW]\d{4} \d|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"  # the second line of a CPU-features notice
)


def _forward(read_fd: int, target_fd: int) -> None:
    """Copy lines from `read_fd` to `target_fd` until every writer has closed it, dropping the chatter.

    A process spawned while fd 2 was the pipe keeps it as its stderr, so this runs for as long as it lives."""
    with os.fdopen(read_fd, "rb") as pipe:
        for line in iter(pipe.readline, b""):
            if not CHATTER.match(line):
                os.write(target_fd, line)
    os.close(target_fd)


@contextmanager
def quiet_native_startup() -> Iterator[None]:
    """Filter fd 2 for the duration of the block (see the module docstring)."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    original = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    threading.Thread(target=_forward, args=(read_fd, os.dup(original)), name="stderr-filter", daemon=True).start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # fd 2 was the pipe's last writer here: the forwarder drains it and ends
        os.close(original)
