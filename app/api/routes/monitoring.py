"""Monitoring a model in production: payload logging's sample rate, and the logged payloads of a version."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import RegistryDep, ServingDep
from app.errors import NotReady

router = APIRouter(prefix="/models", tags=["monitoring"])


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
