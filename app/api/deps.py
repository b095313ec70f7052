"""Dependencies as Annotated aliases: routes ask for what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.jobs.store import JobStore
from app.registry import LocalRegistry
from app.serving.predictor import Predictor
from app.settings import Settings
from app.worker.supervisor import Supervisor


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> JobStore:
    return request.app.state.store


def get_registry(request: Request) -> LocalRegistry:
    return request.app.state.registry


def get_predictor(request: Request) -> Predictor:
    return request.app.state.predictor


def get_supervisor(request: Request) -> Supervisor | None:
    return request.app.state.supervisor


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
RegistryDep = Annotated[LocalRegistry, Depends(get_registry)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
SupervisorDep = Annotated[Supervisor | None, Depends(get_supervisor)]
