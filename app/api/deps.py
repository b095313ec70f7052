"""Dependencies as Annotated aliases: routes ask for what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.datasets.loading import Catalog, open_catalog
from app.jobs.store import JobStore
from app.registry import Registry
from app.serving.inference import Serving
from app.serving.metrics import Metrics
from app.serving.model_cache import ModelCache
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.worker.supervisor import Supervisor


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> JobStore:
    return request.app.state.store


def get_sweeps(request: Request) -> SweepStore:
    return request.app.state.sweeps


def get_registry(request: Request) -> Registry:
    return request.app.state.registry


def get_model_cache(request: Request) -> ModelCache:
    return request.app.state.model_cache


async def get_serving(request: Request) -> Serving:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, a hop the predict path can't afford."""
    return request.app.state.serving


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_supervisor(request: Request) -> Supervisor | None:
    return request.app.state.supervisor


def get_catalog(request: Request) -> Catalog:
    return open_catalog(request.app.state.settings.datasets_location)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
SweepsDep = Annotated[SweepStore, Depends(get_sweeps)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]
ServingDep = Annotated[Serving, Depends(get_serving)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SupervisorDep = Annotated[Supervisor | None, Depends(get_supervisor)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
