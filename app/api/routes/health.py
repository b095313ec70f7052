"""Liveness and readiness, as async routes off the shared thread pool: busy sync routes cannot starve them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request

from app.errors import NotReady

router = APIRouter(tags=["health"])

PING_TIMEOUT_S = 2.0
_PING = ThreadPoolExecutor(1, thread_name_prefix="maas-readyz")  # one ping at a time: a hung database holds one


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Store unreachable or worker pool down"}})
async def readyz(request: Request) -> dict[str, str]:
    """The job store answers within PING_TIMEOUT_S and, when embedded, the worker pool runs."""
    state = request.app.state
    ping = asyncio.get_running_loop().run_in_executor(_PING, state.store.ping)
    try:
        await asyncio.wait_for(asyncio.shield(ping), PING_TIMEOUT_S)
    except TimeoutError as exc:
        raise NotReady(f"the job store did not answer within {PING_TIMEOUT_S:g} s") from exc
    except Exception as exc:
        raise NotReady(f"the job store is unreachable: {type(exc).__name__}") from exc
    if state.settings.workers > 0 and (state.supervisor is None or not state.supervisor.alive):
        raise NotReady("the embedded worker pool is not running")
    return {"status": "ready"}
