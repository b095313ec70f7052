"""A batch prediction reads its next chunk in a thread while the runtime scores the one before: the chunks come
in order, each made off the caller's thread, and a chunk that cannot be read fails the caller where it would
have come."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.errors import InvalidUpload
from app.worker.scoring import read_ahead


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
