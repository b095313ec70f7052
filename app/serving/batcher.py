"""Dynamic batching: concurrent requests for one model version merge into one model call and are split back.

Requests queue per key (model name, version). One drain at a time empties a key's queue, from the loop's next
tick (so requests submitted in the same tick join): it takes what waits (up to `max_size` rows; a request is
never split, so one larger than that runs alone), calls the model once in a worker thread (or inline on the
event loop, for a model whose `inline` attribute says its calls take less time than two thread switches) and
hands each request exactly its own rows. While a call runs, newcomers queue, so under load batches form by
themselves, and an idle model answers a lone request at once. How long a drain waits for more batch-mates is the
`DrainPolicy`'s (app/serving/drain_policy.py); with nothing on its way and an inline model it is a plain callback
rather than a task (a task per batch costs more than such a model's call). Inputs are validated before they join,
so one request's bad input never fails its batch-mates; an error of the model call itself fails that call's
requests only.

Everything here runs on the event loop except the model call; nothing here knows about TensorFlow or HTTP.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

import numpy as np

from app.serving.drain_policy import QUIET_S, DrainPolicy

Model = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BatchStats:
    """What one model call did, for metrics."""

    key: Hashable
    rows: int
    requests: int
    queue_delay_s: float  #: how long the oldest request of the batch waited for its call to start
    call_s: float


@dataclass
class _Request:
    batch: np.ndarray
    future: asyncio.Future[np.ndarray]
    queued_at: float


@dataclass
class _Lane:
    model: Model
    loop: asyncio.AbstractEventLoop  #: looked up once: `get_running_loop()` costs a getpid() system call each time
    pending: deque[_Request] = field(default_factory=deque)
    rows: int = 0
    draining: bool = False


class Batcher:
    """Merges concurrent `submit`s for one key into one call of that key's model, `max_size` rows at most."""

    def __init__(
        self,
        max_size: int,
        max_delay_s: float,
        *,
        threads: int = 4,
        observe: Callable[[BatchStats], None] | None = None,
        quiet_s: float = QUIET_S,
    ) -> None:
        self.policy = DrainPolicy(max_size, max_delay_s, quiet_s)
        self._observe = observe
        self._lanes: dict[Hashable, _Lane] = {}
        self._receiving = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="maas-model")

    def backlog(self) -> tuple[int, int]:
        """(requests on their way to a batch, rows queued and not yet in a model call): the queue depth
        that /metrics reports, read at scrape time."""
        return self._receiving, sum(lane.rows for lane in self._lanes.values())

    def receiving(self) -> _Receiving:
        """Count a request as on its way from its first byte until it joins a queue (or fails first), so that a
        forming batch may wait for it: a request whose body has arrived may still be resolving its version (a
        registry read off the event loop), and the batch must not leave without it."""
        return _Receiving(self)

    async def submit(self, key: Hashable, model: Model, batch: np.ndarray) -> np.ndarray:
        """`model(batch)`, computed together with whatever else is queued for `key`; returns this batch's rows."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(model, asyncio.get_running_loop())
        lane.model = model
        loop = lane.loop
        request = _Request(batch, loop.create_future(), loop.time())
        lane.pending.append(request)
        lane.rows += len(batch)
        arriving = _arriving.get()
        if arriving is not None:
            arriving.arrived()  # wakes the drain, as below
        self._wake()
        if not lane.draining:
            lane.draining = True
            loop.call_soon(self._start_drain, key, lane)  # next tick: requests submitted in this one join too
        return await request.future

    async def close(self) -> None:
        """Stop draining; requests still queued fail, the worker threads are let go."""
        for task in list(self._tasks):
            task.cancel()
        for lane in self._lanes.values():
            for request in lane.pending:
                if not request.future.done():
                    request.future.set_exception(RuntimeError("the server is shutting down"))
        self._lanes.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- draining -------------------------------------------------------------------------------------

    def _start_drain(self, key: Hashable, lane: _Lane) -> None:
        """Drain in this callback when nothing is on its way and the model is called inline (the usual case
        under load: a task per batch costs more than the model call); else in a task that may wait."""
        if self._lanes.get(key) is not lane:  # closed meanwhile: its requests have failed
            return
        if self._receiving or self.policy.streaming(key) or not getattr(lane.model, "inline", False):
            task = lane.loop.create_task(self._drain(key, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        try:
            while lane.pending:
                taken = self._take(key, lane)
                if taken:
                    self._call_inline(key, lane, taken)
        finally:
            self._drained(key, lane)

    async def _drain(self, key: Hashable, lane: _Lane) -> None:
        try:
            while lane.pending:
                await self._wait_for_mates(lane)
                if self.policy.streaming(key):
                    await self.policy.wait_while_arriving(
                        lane, oldest_queued_at=lane.pending[0].queued_at, loop=lane.loop
                    )
                taken = self._take(key, lane)
                if taken:
                    await self._run(key, lane, taken)
        finally:
            self._drained(key, lane)

    def _drained(self, key: Hashable, lane: _Lane) -> None:
        lane.draining = False
        if not lane.pending and self._lanes.get(key) is lane:
            del self._lanes[key]

    async def _wait_for_mates(self, lane: _Lane) -> None:
        """Wait while requests are still being received, up to the policy's deadline for the oldest one."""
        loop = lane.loop
        deadline = self.policy.deadline(lane.pending[0].queued_at)
        while self._receiving and not self.policy.full(lane):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_later(remaining, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()

    def _take(self, key: Hashable, lane: _Lane) -> list[_Request]:
        """The oldest requests that fit in `max_size` rows together (always at least one); cancelled ones dropped.
        Tells the policy how many they are."""
        max_size = self.policy.max_size
        taken: list[_Request] = []
        rows = 0
        while lane.pending:
            request = lane.pending[0]
            size = len(request.batch)
            if taken and rows + size > max_size:
                break
            lane.pending.popleft()
            lane.rows -= size
            if request.future.cancelled():
                continue
            taken.append(request)
            rows += size
        self.policy.called(key, len(taken))
        return taken

    async def _run(self, key: Hashable, lane: _Lane, taken: list[_Request]) -> None:
        model = lane.model
        if getattr(model, "inline", False):
            self._call_inline(key, lane, taken)  # quicker than the two thread switches a worker thread costs
            return
        loop = lane.loop
        merged = _merged(taken)
        started = loop.time()
        try:
            outputs = _checked(await loop.run_in_executor(self._executor, model, merged), merged)
        except Exception as exc:  # the call failed: its requests fail, the lane goes on
            _fail(taken, exc)
            return
        except asyncio.CancelledError:  # closing: nobody may wait forever
            _fail(taken, RuntimeError("the server is shutting down"))
            raise
        self._deliver(key, taken, outputs, started, loop.time())

    def _call_inline(self, key: Hashable, lane: _Lane, taken: list[_Request]) -> None:
        merged = _merged(taken)
        started = lane.loop.time()
        try:
            outputs = _checked(lane.model(merged), merged)
        except Exception as exc:  # the call failed: its requests fail, the lane goes on
            _fail(taken, exc)
            return
        self._deliver(key, taken, outputs, started, lane.loop.time())

    def _deliver(self, key: Hashable, taken: list[_Request], outputs: np.ndarray, started: float, ended: float) -> None:
        """Hand each request exactly its own rows of the call's `outputs`."""
        offset = 0
        for request in taken:
            size = len(request.batch)
            if not request.future.done():
                request.future.set_result(outputs[offset : offset + size])
            offset += size
        if self._observe is not None:
            delay = started - taken[0].queued_at
            self._observe(BatchStats(key, offset, len(taken), delay, ended - started))

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            _resolve(waiter)


class _Receiving:
    """`with batcher.receiving():` around a request's whole handling (a class rather than a generator: it is on
    every request's path). It stops counting when the request joins a queue (`submit` finds it in the context)
    or, at the latest, when the block ends."""

    __slots__ = ("_batcher", "_counted", "_token")

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self._counted = False
        self._token: Token[_Receiving | None] | None = None

    def __enter__(self) -> None:
        self._batcher._receiving += 1
        self._counted = True
        self._token = _arriving.set(self)

    def arrived(self) -> None:
        if self._counted:
            self._counted = False
            self._batcher._receiving -= 1
            self._batcher._wake()

    def __exit__(self, *_exc: object) -> None:
        self.arrived()
        if self._token is not None:
            _arriving.reset(self._token)


#: The request on its way in this task (and tasks it starts): its `submit` stops counting it as on its way.
_arriving: ContextVar[_Receiving | None] = ContextVar("maas_arriving", default=None)


def _merged(taken: list[_Request]) -> np.ndarray:
    return taken[0].batch if len(taken) == 1 else np.concatenate([r.batch for r in taken])


def _checked(outputs: np.ndarray, merged: np.ndarray) -> np.ndarray:
    if len(outputs) != len(merged):
        raise RuntimeError(f"the model returned {len(outputs)} rows for {len(merged)} inputs")
    return outputs


def _fail(requests: list[_Request], exc: BaseException) -> None:
    for request in requests:
        if not request.future.done():
            request.future.set_exception(exc)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
