"""The sha256 of an upload's bytes, kept running between PATCHes in this process only: hashlib's state cannot be
stored, so after a restart (or on another replica) it is missing and the storage hashes the stored bytes again."""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO

READ_BYTES = 1 << 20


class RunningHashes:
    def __init__(self) -> None:
        self._hashes: dict[str, tuple[int, Any]] = {}  # upload id -> (offset, sha256 of the bytes before it)

    def take(self, upload_id: str, offset: int) -> Any | None:
        """The running hash of an upload at `offset`, removed until kept again; None if this process has none."""
        known = self._hashes.pop(upload_id, None)
        return known[1] if known is not None and known[0] == offset else None

    def keep(self, upload_id: str, offset: int, digest: Any) -> None:
        self._hashes[upload_id] = (offset, digest)

    def drop(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)


def hash_stream(f: BinaryIO, size: int | None = None) -> Any:
    """The sha256 of the first `size` bytes of `f` (all of it for None), read in bounded pieces."""
    digest = hashlib.sha256()
    left = size
    while left is None or left > 0:
        block = f.read(READ_BYTES if left is None else min(READ_BYTES, left))
        if not block:
            break
        digest.update(block)
        if left is not None:
            left -= len(block)
    return digest
