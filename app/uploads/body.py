"""The steps a PATCH body takes whatever the storage: it must start where the upload ends and fit within
Upload-Length, and its chunks are taken only while they do, so that each storage writes just what fits."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from app.errors import TooLarge
from app.uploads.errors import OffsetMismatch
from app.uploads.state import UploadState


def check_start(state: UploadState, *, offset: int, size: int, declared: int | None) -> None:
    """409 unless the body starts at the `size` bytes stored; 413 if its declared length runs past Upload-Length."""
    if offset != size:
        raise OffsetMismatch(f"Upload-Offset is {offset} but the upload holds {size} bytes: resume at {size}")
    if declared is not None and offset + declared > state.length:
        raise past_length(state, offset + declared)


def past_length(state: UploadState, end: int) -> TooLarge:
    return TooLarge(f"the body would end at byte {end}, past the upload's Upload-Length of {state.length} bytes")


class BoundedBody:
    """The chunks of a body starting at `offset`, up to the first that would run past Upload-Length: that one is
    not given, and `overflow_end` says where it would have ended (None while the body fits)."""

    def __init__(self, state: UploadState, *, offset: int, chunks: AsyncIterable[bytes]) -> None:
        self.state, self.offset, self.chunks = state, offset, chunks
        self.overflow_end: int | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        end = self.offset
        async for chunk in self.chunks:
            if end + len(chunk) > self.state.length:
                self.overflow_end = end + len(chunk)
                return
            yield chunk
            end += len(chunk)

    @property
    def overflowed(self) -> bool:
        return self.overflow_end is not None

    def refusal(self) -> TooLarge:
        """The 413 for a body that ran past Upload-Length."""
        assert self.overflow_end is not None
        return past_length(self.state, self.overflow_end)
