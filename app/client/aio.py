"""`AsyncMaasClient`: the asyncio Python client (services, notebooks with `await`); mirrors `MaasClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

from app.client import calls
from app.client.base import STREAM_TIMEOUT, SWEEP_TERMINAL, TERMINAL, client_options, request_options
from app.client.calls import Call, Prediction
from app.client.errors import MaasConnectionError, raise_for_status
from app.client.sse import Event, EventDecoder, aiter_events

Json = dict[str, Any]


class AsyncMaasClient:
    """`AsyncMaasClient(url, api_key=...)`; the URL and key default to `MAAS_URL` and `MAAS_API_KEY`.

    Every method raises a `MaasError` subclass (NotFound, InvalidRequest, ...) for a problem document and
    `MaasConnectionError` when the server cannot be reached. Use as an async context manager, or await `close()`.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        http: httpx.AsyncClient | None = None,
        **httpx_options: Any,
    ) -> None:
        self.http = http or httpx.AsyncClient(**client_options(url, api_key, timeout, **httpx_options))

    async def __aenter__(self) -> AsyncMaasClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def _send(self, call: Call) -> Any:
        try:
            response = await self.http.request(call.method, call.path, **request_options(call))
        except httpx.TransportError as exc:
            raise MaasConnectionError(f"cannot reach {self.http.base_url}: {exc}") from exc
        return call.parse(raise_for_status(response))

    # --- datasets -------------------------------------------------------------------------------------------
    async def upload_dataset(
        self, path: str | Path, target: str | None = None, name: str | None = None, task: str | None = None
    ) -> Json:
        return await self._send(calls.upload_dataset(path, name, target, task))

    async def list_datasets(self) -> list[Json]:
        return await self._send(calls.list_datasets())

    async def get_dataset(self, dataset_id: str) -> Json:
        return await self._send(calls.get_dataset(dataset_id))

    async def delete_dataset(self, dataset_id: str) -> None:
        await self._send(calls.delete_dataset(dataset_id))

    # --- training and jobs ----------------------------------------------------------------------------------
    async def train(self, spec: Json | str | Path) -> Json:
        """Queue a spec (a dict, or a .json/.yaml path); returns the queued Job."""
        return await self._send(calls.train(spec))

    async def list_jobs(
        self, status: str | None = None, model_name: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[Json]:
        return await self._send(calls.list_jobs(status, model_name, limit, offset))

    async def get_job(self, job_id: str) -> Json:
        return await self._send(calls.get_job(job_id))

    async def cancel(self, job_id: str) -> Json:
        return await self._send(calls.cancel_job(job_id))

    async def evaluate(self, name: str, version: int, dataset: Json, batch_size: int | None = None) -> Json:
        return await self._send(calls.evaluate(name, version, dataset, batch_size))

    async def evaluations(self, name: str, version: int | None = None, dataset_sha256: str | None = None) -> list[Json]:
        return await self._send(calls.list_evaluations(name, version, dataset_sha256))

    async def batch_predict(self, body: Json) -> Json:
        return await self._send(calls.batch_predict(body))

    async def job_output(self, job_id: str) -> bytes:
        return await self._send(calls.job_output(job_id))

    async def tensorboard(self, job_id: str) -> bytes:
        """The job's TensorBoard logs as `.tar.gz` bytes."""
        return await self._send(calls.tensorboard(job_id))

    async def wait(self, job_id: str, timeout: float | None = None, poll_s: float = 0.5) -> Json:
        """Poll until the job is terminal and return it; TimeoutError after `timeout` seconds."""
        return await self._wait("job", self.get_job, job_id, TERMINAL, timeout, poll_s)

    async def _wait(
        self,
        kind: str,
        read: Callable[[str], Awaitable[Json]],
        ident: str,
        ends: frozenset[str],
        timeout: float | None,
        poll_s: float,
    ) -> Json:
        deadline = None if timeout is None else anyio.current_time() + timeout
        while (state := await read(ident))["status"] not in ends:
            if deadline is not None and anyio.current_time() > deadline:
                raise TimeoutError(f"{kind} {ident} is still {state['status']} after {timeout} s")
            await anyio.sleep(poll_s)
        return state

    async def follow(self, job_id: str, last_event_id: str | None = None, reconnects: int = 5) -> AsyncIterator[Event]:
        """The job's events as they happen, until its terminal status; a broken connection is resumed from the
        last event id (up to `reconnects` times in a row)."""
        decoder, failures = EventDecoder(last_id=last_event_id), 0
        while True:
            call = calls.events(job_id, decoder.last_id)
            try:
                async with self.http.stream("GET", call.path, headers=call.headers, timeout=STREAM_TIMEOUT) as response:
                    if response.status_code == 204:
                        return
                    if not response.is_success:
                        await response.aread()
                        raise_for_status(response)
                    async for event in aiter_events(response.aiter_lines(), decoder):
                        failures = 0
                        yield event
                        if event.is_terminal:
                            return
                problem = "the stream ended before the job did"
            except httpx.TransportError as exc:
                problem = str(exc) or type(exc).__name__
            failures += 1
            if failures > reconnects:
                raise MaasConnectionError(f"lost the event stream of job {job_id}: {problem}")
            await anyio.sleep((decoder.retry_ms or 1000) / 1000)

    # --- sweeps ---------------------------------------------------------------------------------------------
    async def create_sweep(self, spec: Json | str | Path) -> Json:
        """Start a sweep (a dict, or a .json/.yaml path); returns it, still without trials."""
        return await self._send(calls.create_sweep(spec))

    async def list_sweeps(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Json]:
        return await self._send(calls.list_sweeps(status, limit, offset))

    async def get_sweep(self, sweep_id: str) -> Json:
        """The sweep with its trials (params, state, objective, epochs), best trial, importances and model."""
        return await self._send(calls.get_sweep(sweep_id))

    async def cancel_sweep(self, sweep_id: str) -> Json:
        return await self._send(calls.cancel_sweep(sweep_id))

    async def wait_sweep(self, sweep_id: str, timeout: float | None = None, poll_s: float = 1.0) -> Json:
        """Poll until the sweep has ended (its best model published, or failed, or cancelled) and return it."""
        return await self._wait("sweep", self.get_sweep, sweep_id, SWEEP_TERMINAL, timeout, poll_s)

    async def watch_sweep(self, sweep_id: str, poll_s: float = 1.0) -> AsyncIterator[Json]:
        """The sweep read every `poll_s` seconds, ending with its final state. Polled, not streamed: a sweep's
        state is its Optuna study plus its trials' jobs, and has no event stream of its own."""
        while True:
            sweep = await self.get_sweep(sweep_id)
            yield sweep
            if sweep["status"] in SWEEP_TERMINAL:
                return
            await anyio.sleep(poll_s)

    # --- registry and prediction ----------------------------------------------------------------------------
    async def list_models(self) -> list[Json]:
        return await self._send(calls.list_models())

    async def get_model(self, name: str) -> Json:
        return await self._send(calls.get_model(name))

    async def get_version(self, name: str, version: int) -> Json:
        return await self._send(calls.get_version(name, version))

    async def download_artifact(self, name: str, version: int) -> bytes:
        """The version's `.keras` file."""
        return await self._send(calls.download_artifact(name, version))

    async def delete_version(self, name: str, version: int) -> None:
        await self._send(calls.delete_version(name, version))

    async def set_alias(self, name: str, alias: str, version: int) -> dict[str, int]:
        """Point `alias` at `version`; returns all the model's aliases."""
        return (await self._send(calls.set_alias(name, alias, version)))["aliases"]

    async def delete_alias(self, name: str, alias: str) -> dict[str, int]:
        return (await self._send(calls.delete_alias(name, alias)))["aliases"]

    async def predict(
        self, model: str, instances: Any, version: int | None = None, alias: str | None = None
    ) -> Prediction:
        """Numpy (or nested lists) in, `Prediction` out: `.predictions` array and `.classes` label names."""
        return await self._send(calls.predict(model, instances, version, alias))
