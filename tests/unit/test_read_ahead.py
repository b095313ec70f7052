"""A batch prediction reads its next chunk in a thread while the runtime scores the one before: the chunks come
in order, each made off the caller's thread, and a chunk that cannot be read fails the caller where it would
have come; the arrays it fills are reused in turn."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from app.errors import InvalidUpload
from app.worker.scoring import Reused, read_ahead


def test_items_come_in_order_made_in_another_thread() -> None:
    makers: list[int | None] = []

    def items() -> Iterator[int]:
        for item in range(5):
            makers.append(threading.get_ident())
            yield item

    assert list(read_ahead(items())) == [0, 1, 2, 3, 4]
    assert len(makers) == 5 and threading.get_ident() not in makers


def test_a_failure_to_read_reaches_the_caller_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InvalidUpload("feature column 'a' holds inf in row 7")

    seen = []
    with pytest.raises(InvalidUpload, match="row 7"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_reused_arrays_keep_their_rows_until_three_more_were_handed_out() -> None:
    arrays = Reused(3, 2)
    first, second, third = (arrays.next(rows) for rows in (4, 5, 3))
    for value, array in enumerate((first, second, third)):
        array[:] = value
    fourth = arrays.next(2)  # the first one's memory, no bigger than it was

    assert [a.shape for a in (first, second, third, fourth)] == [(4, 2), (5, 2), (3, 2), (2, 2)]
    assert np.shares_memory(fourth, first) and not np.shares_memory(fourth, second)
    assert (second == 1).all() and (third == 2).all()
    assert arrays.next(9).shape == (9, 2), "a bigger chunk gets a bigger array"
