"""Which version answers a request through an alias: the canary for its share of requests, deterministically
per request id when the client sends one (a retried request lands on the same version), at random otherwise."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from app.registry.traffic import AliasTraffic

_SCALE = 100 / 2**64


@dataclass(frozen=True)
class Route:
    """Where one request goes: the version that answers, the alias it came through and the shadow, if any."""

    version: int
    alias: str | None = None
    shadow: int | None = None


def bucket(request_id: str) -> float:
    """A request id's place in [0, 100), the same in every process (unlike `hash`)."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


def pick(traffic: AliasTraffic, alias: str, request_id: str | None) -> Route:
    shadow = traffic.shadow.version if traffic.shadow is not None else None
    canary = traffic.canary
    if canary is None:
        return Route(traffic.version, alias, shadow)
    draw = bucket(request_id) if request_id else random.random() * 100  # noqa: S311 (a traffic split, not a secret)
    return Route(canary.version if draw < canary.percent else traffic.version, alias, shadow)
