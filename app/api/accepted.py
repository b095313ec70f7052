"""What every route that queues work does once it is queued: a 202 that points at it, and a nudge to the worker."""

from __future__ import annotations

from fastapi import Response

from app.worker.supervisor import Supervisor


def accepted(response: Response, supervisor: Supervisor | None, location: str) -> None:
    """Set `Location` and wake the embedded supervisor, so the work starts now rather than at its next poll."""
    if supervisor is not None:
        supervisor.wake()
    response.headers["Location"] = location
