"""Serving: what the prediction routes of every protocol share — resolve a version, have it loaded off the event
loop (once, however many requests wait for it), and call it through the batcher.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import numpy as np

from app.errors import TooLarge
from app.registry import Registry
from app.serving.batcher import Batcher
from app.serving.model_cache import Key, LoadedModel, ModelCache
from app.serving.payload_log import PayloadLog, Record
from app.serving.resolver import VersionResolver
from app.serving.shadow import Shadows
from app.serving.traffic import Route, pick


class Serving:
    def __init__(
        self,
        registry: Registry,
        model_cache: ModelCache,
        batcher: Batcher,
        *,
        max_instances: int = 10_000,
        max_request_bytes: int = 10 * 2**20,
        observe: Callable[[Key, float], None] | None = None,
        payloads: PayloadLog | None = None,
    ) -> None:
        self.registry = registry
        self.max_instances = max_instances
        self.max_request_bytes = max_request_bytes  # also the most an encoded (gzip) body may inflate to
        self.model_cache = model_cache
        self.batcher = batcher
        self.resolver = VersionResolver(registry)
        self._loads: dict[Key, asyncio.Future[LoadedModel]] = {}
        self._observe = observe
        self.payloads = payloads
        self.shadows = Shadows(self._shadow_call)

    async def model(self, name: str, version: int | None = None, alias: str | None = None) -> LoadedModel:
        """The loaded version meant by an explicit version, an alias, or neither (= the latest)."""
        number = self.resolver.cached(name, version, alias)
        if number is None:  # reading the registry may take a network round trip (S3): not on the event loop
            number = await asyncio.to_thread(self.resolver.resolve, name, version, alias)
        loaded = self.model_cache.peek(name, number)
        return loaded if loaded is not None else await self._load((name, number))

    async def route(
        self, name: str, version: int | None, alias: str | None, request_id: str | None = None
    ) -> tuple[LoadedModel, Route]:
        """The loaded version that answers this request: through an alias with a canary, the canary answers its
        share of requests (the same share for the same request id)."""
        if alias is None or version is not None:
            loaded = await self.model(name, version, alias)
            return loaded, Route(loaded.meta.version, alias)
        traffic = self.resolver.cached_traffic(name, alias)
        if traffic is None:
            traffic = await asyncio.to_thread(self.resolver.traffic, name, alias)
        route = pick(traffic, alias, request_id)
        return await self.model(name, route.version), route

    def served(
        self,
        loaded: LoadedModel,
        route: Route,
        batch: np.ndarray,
        outputs: np.ndarray,
        *,
        request_id: str | None,
        started: float,
    ) -> None:
        """After an answer: its inputs go to the route's shadow, if any, and a sample of answers to the payload
        log, both off the request path. `started` is the request's `time.perf_counter()` at arrival."""
        if route.shadow is not None and route.shadow != loaded.meta.version:
            self.shadows.launch(loaded, route.shadow, batch, outputs, request_id)
        if self.payloads is not None and self.payloads.sampled(loaded.meta.name):
            latency_ms = (time.perf_counter() - started) * 1000
            record = Record(*loaded.key, route.alias, request_id, datetime.now(UTC), latency_ms, batch, outputs)
            self.payloads.add(record)

    async def _shadow_call(self, name: str, version: int, batch: np.ndarray) -> tuple[LoadedModel, np.ndarray]:
        loaded = await self.model(name, version)
        return loaded, await self.infer(loaded, batch)

    async def _load(self, key: Key) -> LoadedModel:
        """Load in a worker thread, so that requests to models already loaded go on meanwhile."""
        pending = self._loads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.model_cache.get, *key))
            self._loads[key] = pending
            pending.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(pending)  # one impatient client must not cancel the others' load

    def _loaded(self, key: Key, done: asyncio.Future[LoadedModel]) -> None:
        self._loads.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every waiter gave up

    async def infer(self, loaded: LoadedModel, batch: np.ndarray) -> np.ndarray:
        """The model's output rows for `batch`, computed together with concurrent requests for that version."""
        if len(batch) > self.max_instances:
            raise TooLarge(
                f"the request has {len(batch)} rows; one prediction request may send {self.max_instances} "
                "(MAAS_MAX_INSTANCES)"
            )
        started = time.perf_counter()
        outputs = await self.batcher.submit(loaded.key, loaded, batch)
        if self._observe is not None:
            self._observe(loaded.key, time.perf_counter() - started)
        return outputs

    def receiving(self) -> AbstractContextManager[None]:
        """Wrap a request's handling, so that a forming batch may wait for it until it joins (see Batcher.receiving)."""
        return self.batcher.receiving()

    async def close(self) -> None:
        await self.shadows.drain()
        await self.batcher.close()
        if self.payloads is not None:
            await asyncio.to_thread(self.payloads.close)
