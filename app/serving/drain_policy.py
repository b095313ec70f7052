"""How long a forming batch waits for batch-mates before its model call: the one trade-off of dynamic batching
(each wait adds latency to the requests already queued, each merged request saves a model call), kept apart from
the batcher's queues and futures so that it can be read, and tuned, on its own.

A batch never waits past `max_delay_s` after its oldest request queued, nor once it holds `max_size` rows. Within
that it waits in two cases only:
- while other requests are still being received (the batcher counts them, see `Batcher.receiving`);
- after a call of the same key that merged requests: gRPC calls reach the event loop one at a time, each after
  the last was answered or queued, so none is "being received" although more are on their way. The batch yields
  to the loop while they keep joining, each within `quiet_s` of the last. A lone client's requests never merge,
  so never wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Sized
from typing import Protocol

#: How long a stream of requests may pause before a forming batch leaves without the next one: a few grpc.aio
#: accept cycles (it hands the event loop one call at a time, ~0.1-0.3 ms apart on a 2-core machine: 0.15 and
#: 0.25 ms measured alike at 8 and 64 calls in flight, 0.5 and 1 ms lower).
QUIET_S = 0.00025


class Forming(Protocol):
    """A key's queue as the policy sees it: its requests (oldest first) and the rows they hold."""

    pending: Sized
    rows: int


class DrainPolicy:
    def __init__(self, max_size: int, max_delay_s: float, quiet_s: float = QUIET_S) -> None:
        self.max_size = max_size
        self.max_delay_s = max_delay_s
        self.quiet_s = quiet_s
        self._streaming: set[Hashable] = set()  #: keys whose last call merged requests

    def deadline(self, oldest_queued_at: float) -> float:
        """The loop time by which a batch whose oldest request queued at `oldest_queued_at` must leave."""
        return oldest_queued_at + self.max_delay_s

    def full(self, forming: Forming) -> bool:
        return forming.rows >= self.max_size

    def streaming(self, key: Hashable) -> bool:
        """Whether `key`'s last call merged requests, so that its next batch waits while more keep joining."""
        return key in self._streaming

    def called(self, key: Hashable, requests: int) -> None:
        """Note how many requests `key`'s latest call took."""
        if requests > 1:
            self._streaming.add(key)
        else:
            self._streaming.discard(key)

    async def wait_while_arriving(
        self, forming: Forming, oldest_queued_at: float, loop: asyncio.AbstractEventLoop
    ) -> None:
        """Yield to the loop while requests keep joining `forming`, each within `quiet_s` of the last, up to the
        deadline and `max_size` rows (for a streaming key; see the module's docstring)."""
        now = time.perf_counter()
        limit = now + self.deadline(oldest_queued_at) - loop.time()
        joined, count = now, len(forming.pending)
        while not self.full(forming) and now < limit and now - joined < self.quiet_s:
            await asyncio.sleep(0)
            now = time.perf_counter()
            if len(forming.pending) != count:
                joined, count = now, len(forming.pending)
