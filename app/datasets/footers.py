"""Parsed Parquet footers of the files read last, so that a shuffled epoch does not parse one per row group.

A streamed epoch reads a file's row groups one at a time and out of order, each a new open. A wide file's footer
is big: 784 columns in 80 row groups is 5.5 MB on disk, 47 ms to parse and 64 MiB parsed, which was 12 % of the
reading thread's time (py-spy). Only the last few files' footers are kept, which bounds the memory, and a local
file's is keyed by its size and modification time as well as its URL, so a file rewritten in place is parsed
again; a dataset's remote files do not change under it (their sha256 is part of its record).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

import pyarrow.parquet as pq

KEPT_FILES = 2  # the file being read and the one before it (a batch prediction's range may span two)


class FooterCache:
    def __init__(self, kept: int = KEPT_FILES) -> None:
        self.kept = kept
        self._footers: OrderedDict[Hashable, pq.FileMetaData] = OrderedDict()
        self._lock = threading.Lock()  # a read-ahead thread and the main thread may read at once

    def get(self, key: Hashable) -> pq.FileMetaData | None:
        with self._lock:
            found = self._footers.get(key)
            if found is not None:
                self._footers.move_to_end(key)
            return found

    def put(self, key: Hashable, footer: pq.FileMetaData) -> None:
        with self._lock:
            self._footers[key] = footer
            self._footers.move_to_end(key)
            while len(self._footers) > self.kept:
                self._footers.popitem(last=False)


def footer_key(url: str, path: Path | None) -> Hashable:
    """What identifies a file's footer: a local file's size and modification time too."""
    if path is None:
        return url
    stat = os.stat(path)
    return (url, stat.st_size, stat.st_mtime_ns)


FOOTERS = FooterCache()
