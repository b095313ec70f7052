"""Hyperparameter sweeps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.accepted import accepted
from app.api.deps import SettingsDep, StoreDep, SupervisorDep, SweepsDep
from app.sweeps.service import Sweep, cancel_sweep, read_sweep, submit_sweep
from app.sweeps.spec import SweepSpec
from app.sweeps.store import SweepRow, SweepStatus

router = APIRouter(prefix="/sweeps", tags=["sweeps"])


@router.post("", status_code=202, response_model=Sweep)
def create_sweep(
    spec: SweepSpec, response: Response, sweeps: SweepsDep, settings: SettingsDep, supervisor: SupervisorDep
) -> Sweep:
    """Check a sweep (base spec, search space, objective) against its data and start it."""
    sweep = submit_sweep(sweeps, spec, settings)
    accepted(response, supervisor, f"/sweeps/{sweep.id}")
    return sweep


@router.get("", response_model=list[SweepRow])
def read_sweeps(
    sweeps: SweepsDep,
    status: SweepStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[SweepRow]:
    """Sweeps, newest first."""
    return sweeps.read_all(status, limit, offset)


@router.get("/{sweep_id}", response_model=Sweep)
def read_one_sweep(sweep_id: str, sweeps: SweepsDep, store: StoreDep, settings: SettingsDep) -> Sweep:
    """A sweep with its trials (parameters, objective, state), the best one and parameter importances."""
    return read_sweep(sweeps, store, sweep_id, settings)


@router.post("/{sweep_id}/cancel", response_model=Sweep)
def cancel_one_sweep(sweep_id: str, sweeps: SweepsDep, store: StoreDep, settings: SettingsDep) -> Sweep:
    """Stop a sweep: no new trials; its queued and running trials are cancelled."""
    return cancel_sweep(sweeps, store, sweep_id, settings)
