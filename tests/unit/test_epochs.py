"""A streamed epoch's shuffle buffer and batching: every row once, in an order that is a function of the generator
alone, mixed across read chunks, in full batches but the last, and with no more than the buffer and one chunk read
ahead of what has left it."""

from __future__ import annotations

import mmap
import weakref
from collections.abc import Iterator

import numpy as np

from app.direct_io import AlignedBuffers
from app.training.epochs import DRAW_ROWS, XY, batched, shuffled


def chunks(sizes: list[int], read: list[int] | None = None) -> Iterator[XY]:
    """Chunks of the given sizes whose rows are their global index (x: 2 columns, y: one), counting rows read."""
    start = 0
    for size in sizes:
        index = np.arange(start, start + size)
        if read is not None:
            read.append(size)
        yield np.stack([index, -index], axis=1).astype(np.float32), index
        start += size


def test_the_buffer_lets_every_row_out_once_in_an_order_drawn_from_the_generator() -> None:
    sizes = [300, 1000, 7, 450, 1000, 243]

    def rows(seed: int) -> np.ndarray:
        parts = list(shuffled(chunks(sizes), 800, np.random.default_rng([seed, 0])))
        for x, y in parts:
            assert np.array_equal(x[:, 0], y) and np.array_equal(x[:, 1], -y), "features stay with their target"
        return np.concatenate([y for _, y in parts])

    first = rows(1)
    assert sorted(first) == list(range(sum(sizes)))
    assert np.array_equal(first, rows(1)) and not np.array_equal(first, rows(2))
    assert not np.array_equal(first[:1000], np.sort(first[:1000])), "shuffled"
    assert first[:1000].max() >= 1300, "rows read later overtake rows read earlier"
    assert np.flatnonzero(first < 300).max() >= 1000, "the first chunk's rows do not all leave first"


def test_rows_leave_as_chunks_arrive_with_only_the_buffer_read_ahead() -> None:
    read: list[int] = []
    out = 0
    for x, _ in shuffled(chunks([500] * 40, read), 2000, np.random.default_rng(0)):
        out += len(x)
        assert sum(read) - out <= 2000, "no more than the buffer held back"
        assert len(x) <= 2000
    assert out == 20_000 and len(read) == 40


def test_rows_leave_in_whole_blocks_whatever_the_chunks_sizes() -> None:
    """A split's share of each chunk is any size; blocks of DRAW_ROWS rows all the same, so that the batches cut
    from them are views of one block, never a copy that joins two."""
    sizes = [int(n) for n in np.random.default_rng(5).integers(1, 3000, size=40)]
    parts = list(shuffled(chunks(sizes), DRAW_ROWS + 1000, np.random.default_rng(0)))
    assert [len(x) for x, _ in parts[:-1]] == [DRAW_ROWS] * (len(parts) - 1) and 0 < len(parts[-1][0]) <= DRAW_ROWS
    assert sorted(np.concatenate([y for _, y in parts])) == list(range(sum(sizes)))


def test_rows_leave_in_page_aligned_memory_that_is_reused_once_released() -> None:
    """Aligned, TensorFlow takes the rows without copying them; reused, their pages are not faulted in again; and
    memory still referred to is never written over."""
    draws = AlignedBuffers(5)
    held, seen, reused = [], {}, 0
    for i, (x, _) in enumerate(shuffled(chunks([500] * 30), 500, np.random.default_rng(0), draws)):
        assert x.ctypes.data % mmap.PAGESIZE == 0
        before = seen.get(id(x.base))
        reused += before is not None and before() is x.base
        seen[id(x.base)] = weakref.ref(x.base)
        if i < 3:
            held.append((x, x.copy()))  # kept, as a read-ahead queue keeps a few
    assert all(np.array_equal(x, was) for x, was in held), "a draw still held was not written over"
    assert reused >= 30 - 5, "the draws released came back to the pool"


def test_batches_are_full_but_the_last_and_keep_the_rows_order() -> None:
    parts = list(chunks([5, 300, 1, 1, 127, 0, 64]))
    batches = list(batched(parts, 128))

    assert [len(x) for x, _ in batches] == [128, 128, 128, 114]
    assert np.array_equal(np.concatenate([y for _, y in batches]), np.arange(498))
    assert np.array_equal(np.concatenate([x for x, _ in batches])[:, 0], np.arange(498))
