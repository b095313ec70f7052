"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import SettingsDep, StoreDep, SupervisorDep
from app.errors import NotReady

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Store unreachable or worker pool down"}})
def readyz(store: StoreDep, supervisor: SupervisorDep, settings: SettingsDep) -> dict[str, str]:
    """The job store answers and, when embedded, the worker pool runs."""
    try:
        store.ping()
    except Exception as exc:
        raise NotReady(f"the job store is unreachable: {type(exc).__name__}") from exc
    if settings.workers > 0 and (supervisor is None or not supervisor.alive):
        raise NotReady("the embedded worker pool is not running")
    return {"status": "ready"}
