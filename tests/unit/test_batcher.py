"""The dynamic batcher with a real (numpy) model: merging, splitting back, limits, and failures kept apart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

import numpy as np
import pytest

from app.serving.batcher import Batcher, BatchStats
from app.serving.drain_policy import DrainPolicy

T = TypeVar("T")
FOREVER = 3600.0


class Doubler:
    """A model that doubles its input and remembers the size of every call and the thread that made it."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.threads: set[int] = set()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        self.threads.add(threading.get_ident())
        if (batch < 0).any():
            raise ValueError("negative input")
        return batch * 2


class InlineDoubler(Doubler):
    """As a loaded model whose full batch takes less than two thread switches: called on the event loop."""

    inline = True


BOTH = pytest.mark.parametrize("make_model", [Doubler, InlineDoubler], ids=["worker-thread", "inline"])


def rows(start: int, count: int = 1) -> np.ndarray:
    return np.arange(start * 4, (start + count) * 4, dtype=np.float32).reshape(count, 4)


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 30)  # a hang is a failure, not a stuck suite

    return asyncio.run(bounded())


@BOTH
def test_concurrent_requests_share_one_call_and_each_gets_its_own_rows(make_model: type[Doubler]) -> None:
    model, stats = make_model(), []

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(64, 0.0, observe=stats.append)
        outputs = await asyncio.gather(*(batcher.submit("m", model, rows(i, 1 + i % 3)) for i in range(20)))
        await batcher.close()
        return outputs

    outputs = run(scenario())
    for i, output in enumerate(outputs):
        np.testing.assert_array_equal(output, rows(i, 1 + i % 3) * 2)
    assert model.calls == [sum(1 + i % 3 for i in range(20))]
    assert [(s.rows, s.requests) for s in stats] == [(39, 20)] and isinstance(stats[0], BatchStats)
    on_loop = model.threads == {threading.get_ident()}  # asyncio.run runs the loop in this thread
    assert on_loop == (make_model is InlineDoubler)


def test_a_lone_request_is_not_held_for_the_maximum_delay() -> None:
    async def scenario() -> np.ndarray:
        batcher = Batcher(64, FOREVER)
        output = await batcher.submit("m", Doubler(), rows(0))
        await batcher.close()
        return output

    np.testing.assert_array_equal(run(scenario()), rows(0) * 2)


@BOTH
def test_calls_never_exceed_max_size_and_a_larger_request_runs_alone(make_model: type[Doubler]) -> None:
    model = make_model()

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(8, 0.0)
        sizes = [3, 3, 3, 20, 3, 1]
        outputs = await asyncio.gather(*(batcher.submit("m", model, rows(i * 10, n)) for i, n in enumerate(sizes)))
        await batcher.close()
        return outputs

    outputs = run(scenario())
    assert model.calls == [6, 3, 20, 4]
    np.testing.assert_array_equal(outputs[3], rows(30, 20) * 2)


def test_keys_are_batched_apart() -> None:
    first, second = Doubler(), Doubler()

    async def scenario() -> None:
        batcher = Batcher(64, 0.0)
        await asyncio.gather(*(batcher.submit(("m", i % 2), (first, second)[i % 2], rows(i)) for i in range(10)))
        await batcher.close()

    run(scenario())
    assert first.calls == [5] and second.calls == [5]


@BOTH
def test_a_failing_call_fails_its_requests_only_and_the_next_call_works(make_model: type[Doubler]) -> None:
    model = make_model()

    async def scenario() -> tuple[list[object], np.ndarray]:
        batcher = Batcher(64, 0.0)
        failed = await asyncio.gather(
            batcher.submit("m", model, rows(0)), batcher.submit("m", model, -rows(1)), return_exceptions=True
        )
        after = await batcher.submit("m", model, rows(2))
        await batcher.close()
        return failed, after

    failed, after = run(scenario())
    assert all(isinstance(f, ValueError) for f in failed)
    np.testing.assert_array_equal(after, rows(2) * 2)


@BOTH
def test_a_cancelled_request_leaves_its_batch_mates_alone(make_model: type[Doubler]) -> None:
    model = make_model()

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(64, 0.0)
        doomed = asyncio.ensure_future(batcher.submit("m", model, rows(0)))
        kept = [asyncio.ensure_future(batcher.submit("m", model, rows(i))) for i in (1, 2)]
        await asyncio.sleep(0)  # queued, not yet called
        doomed.cancel()
        outputs = await asyncio.gather(*kept)
        await batcher.close()
        return outputs

    outputs = run(scenario())
    np.testing.assert_array_equal(outputs[0], rows(1) * 2)
    np.testing.assert_array_equal(outputs[1], rows(2) * 2)
    assert model.calls == [2]


@BOTH
def test_a_forming_batch_waits_for_a_request_still_being_received(make_model: type[Doubler]) -> None:
    model = make_model()

    async def scenario() -> None:
        batcher = Batcher(64, FOREVER)

        async def slow_upload() -> np.ndarray:
            with batcher.receiving():
                await asyncio.sleep(0.05)  # its body is still arriving
            return await batcher.submit("m", model, rows(1))

        upload = asyncio.ensure_future(slow_upload())
        await asyncio.sleep(0)
        await asyncio.gather(batcher.submit("m", model, rows(0)), upload)
        await batcher.close()

    run(scenario())
    assert model.calls == [2]


def test_a_forming_batch_waits_for_a_received_request_still_resolving_its_version() -> None:
    model = Doubler()

    async def scenario() -> None:
        batcher = Batcher(64, FOREVER)

        async def resolving() -> np.ndarray:
            with batcher.receiving():
                await asyncio.sleep(0.01)  # its body arrives
                await asyncio.sleep(0.05)  # its version is read from the registry, off the event loop
                return await batcher.submit("m", model, rows(1))

        late = asyncio.ensure_future(resolving())
        await asyncio.sleep(0)
        await asyncio.gather(batcher.submit("m", model, rows(0)), late)
        await batcher.close()

    run(scenario())
    assert model.calls == [2]


def test_the_wait_for_batch_mates_is_bounded_by_the_maximum_delay() -> None:
    model = Doubler()

    async def scenario() -> None:
        batcher = Batcher(64, 0.01)
        gone = asyncio.Event()

        async def never_arrives() -> None:
            with batcher.receiving():
                await gone.wait()

        stalled = asyncio.ensure_future(never_arrives())
        await asyncio.sleep(0)
        await batcher.submit("m", model, rows(0))
        gone.set()
        await stalled
        await batcher.close()

    run(scenario())
    assert model.calls == [1]


@pytest.mark.parametrize("max_size", [1, 2])
def test_max_size_one_or_two_still_answers_everyone(max_size: int) -> None:
    model = Doubler()

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(max_size, 0.0)
        outputs = await asyncio.gather(*(batcher.submit("m", model, rows(i)) for i in range(5)))
        await batcher.close()
        return outputs

    outputs = run(scenario())
    assert all(size <= max_size for size in model.calls) and sum(model.calls) == 5
    for i, output in enumerate(outputs):
        np.testing.assert_array_equal(output, rows(i) * 2)


def test_after_a_merged_call_requests_arriving_one_tick_apart_still_merge() -> None:
    """As grpc.aio hands calls to the event loop: one at a time, each a loop tick or more after the last."""
    model = InlineDoubler()

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(7, FOREVER, quiet_s=FOREVER)  # leaves only once full, so the test cannot race a clock
        await asyncio.gather(*(batcher.submit("m", model, rows(i)) for i in range(2)))  # together: one call
        one_by_one = []
        for i in range(7):
            one_by_one.append(asyncio.ensure_future(batcher.submit("m", model, rows(10 + i))))
            await asyncio.sleep(0)
        outputs = await asyncio.gather(*one_by_one)
        await batcher.close()
        return outputs

    outputs = run(scenario())
    assert model.calls == [2, 7]
    for i, output in enumerate(outputs):
        np.testing.assert_array_equal(output, rows(10 + i) * 2)


def test_a_lone_client_after_a_merged_call_is_answered_one_call_each() -> None:
    model = InlineDoubler()

    async def scenario() -> None:
        batcher = Batcher(64, 0.01, quiet_s=FOREVER)  # the first lone request waits at most max_delay_s
        await asyncio.gather(*(batcher.submit("m", model, rows(i)) for i in range(3)))
        for i in range(3):
            np.testing.assert_array_equal(await batcher.submit("m", model, rows(i)), rows(i) * 2)
        await batcher.close()

    run(scenario())
    assert model.calls == [3, 1, 1, 1]


# --- the drain policy on its own (app/serving/drain_policy.py) --------------------------------------------


class Queue:
    """A forming batch as the policy sees it: queued requests, one row each."""

    def __init__(self, requests: int) -> None:
        self.pending = list(range(requests))
        self.rows = requests

    def join(self) -> None:
        self.pending.append(len(self.pending))
        self.rows += 1


def test_only_a_key_whose_last_call_merged_requests_is_streaming() -> None:
    policy = DrainPolicy(64, FOREVER)
    assert not policy.streaming("a")
    policy.called("a", 3)
    policy.called("b", 1)
    assert policy.streaming("a") and not policy.streaming("b")
    policy.called("a", 1)  # a lone request: the next one does not wait
    assert not policy.streaming("a")


def test_a_streaming_batch_waits_while_requests_keep_joining_until_it_is_full() -> None:
    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        policy = DrainPolicy(5, FOREVER, quiet_s=FOREVER)
        forming, ticks = Queue(1), 0

        async def arrive() -> None:
            nonlocal ticks
            while forming.rows < 10:  # would overfill the batch if the policy let it wait on
                await asyncio.sleep(0)
                ticks += 1
                forming.join()

        arriving = asyncio.ensure_future(arrive())
        await policy.wait_while_arriving(forming, oldest_queued_at=loop.time(), loop=loop)
        rows = forming.rows
        arriving.cancel()
        return rows, ticks

    rows, ticks = run(scenario())
    assert rows == 5 and ticks >= 4


def test_a_batch_past_its_deadline_leaves_without_waiting() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        policy = DrainPolicy(64, 0.0, quiet_s=FOREVER)
        forming = Queue(1)
        joining = loop.call_soon(forming.join)  # would join on the loop's next tick, if the batch yielded to it
        await policy.wait_while_arriving(forming, oldest_queued_at=loop.time() - 1.0, loop=loop)
        joining.cancel()
        return forming.rows

    assert run(scenario()) == 1
