"""The serving protocols, one descriptor each; `PROTOCOLS` is the one list a new protocol is added to.

main.py registers their routers and fast path from it, auth lets predict keys call their prediction paths,
problems answers errors before routing in the envelope of the protocol owning the path, and their routes'
error wrapper (app/api/protocol_errors.py) applies their status overrides.
"""

from __future__ import annotations

from app.api.protocols.base import Protocol
from app.api.protocols.native import NATIVE
from app.api.protocols.oip import OIP
from app.api.protocols.tfserving import TFSERVING

PROTOCOLS: tuple[Protocol, ...] = (NATIVE, TFSERVING, OIP)


def protocol_at(path: str) -> Protocol:
    """The protocol owning `path`; the native API for any path no protocol's prefix claims."""
    return next((p for p in PROTOCOLS if p.owns(path)), NATIVE)


def is_prediction(path: str) -> bool:
    return any(p.is_prediction(path) for p in PROTOCOLS)


__all__ = ["NATIVE", "OIP", "PROTOCOLS", "TFSERVING", "Protocol", "is_prediction", "protocol_at"]
