"""Shadow traffic: the inputs an alias' version answered are also run on its shadow version, in a task of its
own after the answer is computed, so the shadow never delays or fails an answer. Both outputs are logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from app.serving.model_cache import LoadedModel

log = logging.getLogger("maas.shadow")

#: Runs the shadow version on a batch (loading it first if need be).
ShadowCall = Callable[[str, int, np.ndarray], Awaitable[tuple[LoadedModel, np.ndarray]]]
#: Told each shadow result: (primary, shadow, batch, primary outputs, shadow outputs, request id).
ShadowSink = Callable[[LoadedModel, LoadedModel, np.ndarray, np.ndarray, np.ndarray, str | None], None]


class Shadows:
    """The shadow calls in flight (held, so that none is collected mid-run) and how many failed."""

    def __init__(self, call: ShadowCall) -> None:
        self._call = call
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0
        self.sinks: list[ShadowSink] = []

    def launch(
        self, primary: LoadedModel, version: int, batch: np.ndarray, outputs: np.ndarray, request_id: str | None
    ) -> None:
        task = asyncio.create_task(self._run(primary, version, batch, outputs, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, primary: LoadedModel, version: int, batch: np.ndarray, outputs: np.ndarray, request_id: str | None
    ) -> None:
        name = primary.meta.name
        try:
            shadow, shadowed = await self._call(name, version, batch)
        except Exception as exc:  # a broken shadow is the shadow's problem, never the answer's
            self.failures += 1
            log.warning("shadow %s v%s failed for request %s: %s", name, version, request_id, exc)
            return
        diff = float(np.max(np.abs(shadowed - outputs))) if shadowed.shape == outputs.shape else float("nan")
        log.info(
            "shadow %s v%s vs v%s request %s: max |diff| %.6g; outputs %s | %s",
            name,
            version,
            primary.meta.version,
            request_id,
            diff,
            outputs.tolist(),
            shadowed.tolist(),
        )
        for sink in self.sinks:
            sink(primary, shadow, batch, outputs, shadowed, request_id)

    async def drain(self) -> None:
        """Wait for the shadow calls in flight (at shutdown, and for tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
