"""A Server-Sent Events parser (the WHATWG event-stream format) over lines, for sync and async streams alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "pruned"})


@dataclass(frozen=True)
class Event:
    """One event of a job's stream: `progress` (data: epoch, epochs, fold, folds, metrics) or `status`."""

    event: str
    data: Any
    id: str | None = None

    @property
    def is_terminal(self) -> bool:
        """A status event that ends the job (and its stream)."""
        return self.event == "status" and isinstance(self.data, dict) and self.data.get("status") in TERMINAL


@dataclass
class EventDecoder:
    """Feed lines one at a time; a blank line completes an event. Comments (`:`) are keep-alives and vanish."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    last_id: str | None = None
    retry_ms: int | None = None

    def feed(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._event = ""
            return None
        text = "\n".join(self._data)
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = text
        event = Event(self._event or "message", data, self.last_id)
        self._event, self._data = "", []
        return event


def iter_events(lines: Iterable[str], decoder: EventDecoder | None = None) -> Iterator[Event]:
    decoder = decoder or EventDecoder()
    for line in lines:
        if (event := decoder.feed(line)) is not None:
            yield event


async def aiter_events(lines: AsyncIterable[str], decoder: EventDecoder | None = None) -> AsyncIterable[Event]:
    decoder = decoder or EventDecoder()
    async for line in lines:
        if (event := decoder.feed(line)) is not None:
            yield event
