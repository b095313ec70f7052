"""Monitoring a model in production: payload logging's sample rate, the logged payloads of a version, and its
drift against its training data. The router's lifespan runs the periodic drift check (MAAS_DRIFT_CHECK_S)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from app.api.deps import RegistryDep, ServingDep
from app.errors import NotReady
from app.monitoring.drift import PSI_THRESHOLD, DriftReport, Thresholds
from app.monitoring.monitor import DEFAULT_HOURS, DriftMonitor
from app.serving.metrics import Metrics

MAX_HOURS = 24 * 30


@contextlib.asynccontextmanager
async def _drift_check(app: FastAPI) -> AsyncIterator[None]:
    """Inside the app's lifespan (its registry, serving and webhooks exist): the drift monitor, and its
    periodic check when MAAS_DRIFT_CHECK_S > 0."""
    metrics: Metrics = app.state.metrics
    monitor = app.state.drift = DriftMonitor(
        app.state.registry,
        app.state.serving.payloads,
        observe=lambda name, version, report: metrics.observe_drift(
            name, version, report.max_psi, len(report.drifted_features)
        ),
        detected=app.state.webhooks.emit,
        check_s=app.state.settings.drift_check_s,
    )
    task = asyncio.create_task(monitor.run(), name="drift-check") if monitor.check_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


router = APIRouter(prefix="/models", tags=["monitoring"], lifespan=_drift_check)


def get_monitor(request: Request) -> DriftMonitor:
    return request.app.state.drift


class Monitoring(BaseModel):
    log_sample_rate: float = Field(0.0, ge=0, le=1, description="Share of requests logged; 0 = off (the default).")


class Payload(BaseModel):
    time: datetime
    request_id: str | None
    alias: str | None
    version: int
    inputs: Any
    outputs: Any
    latency_ms: float


@router.put("/{name}/monitoring", response_model=Monitoring)
async def set_monitoring(name: str, body: Monitoring, registry: RegistryDep, serving: ServingDep) -> Monitoring:
    """Log a sample of the model's requests (inputs, outputs, version, alias, latency) to Parquet."""
    await asyncio.to_thread(registry.set_monitoring, name, body.model_dump())
    if serving.payloads is not None:
        serving.payloads.rates[name] = body.log_sample_rate
    return body


@router.get("/{name}/monitoring", response_model=Monitoring)
def read_monitoring(name: str, registry: RegistryDep) -> Monitoring:
    """The model's monitoring settings."""
    return Monitoring.model_validate(registry.read_monitoring(name))


@router.get("/{name}/versions/{version}/payloads", response_model=list[Payload])
def read_payloads(
    name: str,
    version: int,
    registry: RegistryDep,
    serving: ServingDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """A version's latest logged requests, newest first."""
    registry.read_version(name, version)
    if serving.payloads is None:
        raise NotReady("payload logging is not running")
    serving.payloads.flush()
    return serving.payloads.read(name, version, limit)


@router.get("/{name}/versions/{version}/drift", response_model=DriftReport, response_model_by_alias=True)
def read_drift(
    name: str,
    version: int,
    monitor: Annotated[DriftMonitor, Depends(get_monitor)],
    hours: Annotated[
        float, Query(gt=0, le=MAX_HOURS, description=f"The window: the last `hours` (at most {MAX_HOURS}).")
    ] = DEFAULT_HOURS,
    psi_threshold: Annotated[
        float, Query(gt=0, description="A feature, or the predictions, drifted when its PSI exceeds this.")
    ] = PSI_THRESHOLD,
    ks_pvalue_threshold: Annotated[
        float | None, Query(gt=0, lt=1, description="When given, a feature also drifted when its KS p-value is below.")
    ] = None,
) -> DriftReport:
    """The version's logged inputs of the last `hours` against its training data: per feature PSI and the
    two-sample KS test, the predictions' PSI, and `drifted`. With the defaults, this is the standard check behind
    the `maas_drift_*` gauges and the `drift.detected` event."""
    thresholds = Thresholds(psi=psi_threshold, ks_pvalue=ks_pvalue_threshold)
    return monitor.drift(name, version, hours=hours, thresholds=thresholds)
