"""API keys with roles, enforced for every route by one ASGI middleware (so a new route is never left open).

`MAAS_API_KEYS="k1:admin,k2:predict"`. `admin` may do everything; `predict` may read (GET/HEAD) and call the
prediction paths the serving protocols declare (`/predict`, TF Serving `:predict`, OIP `/infer`; see
app/api/protocols). Keys arrive as `Authorization: Bearer KEY` or `X-API-Key`, are compared in constant time
against every configured key, and are never logged. Health, readiness, metrics and the dashboard's static files
stay open: they hold no data. Resumable uploads (`/uploads`) are an admin action, their HEAD and OPTIONS too.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Literal

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import error_before_routing
from app.api.protocols import is_prediction

Role = Literal["admin", "predict"]
ROLES: tuple[Role, ...] = ("admin", "predict")
OPEN = re.compile(r"^/(healthz|readyz|metrics|v2/health/(live|ready))$|^/ui(/.*)?$")
READS = {"GET", "HEAD", "OPTIONS"}
ADMIN_ONLY = re.compile(r"^/uploads(/.*)?$")


@dataclass(frozen=True)
class ApiKeys:
    keys: tuple[tuple[bytes, Role], ...]

    @classmethod
    def parse(cls, text: str) -> ApiKeys:
        """Parse `KEY:ROLE,KEY:ROLE`; a malformed entry is a configuration error, raised at start-up."""
        keys = []
        for entry in filter(None, (e.strip() for e in text.split(","))):
            key, sep, role = entry.rpartition(":")
            if not sep or not key or role not in ROLES:
                raise ValueError(f"MAAS_API_KEYS entries must be KEY:ROLE with ROLE one of {ROLES}")
            keys.append((key.encode(), role))
        if not keys:
            raise ValueError("MAAS_API_KEYS is set but holds no KEY:ROLE entry")
        return cls(tuple(keys))  # type: ignore[arg-type]

    def role_of(self, presented: bytes) -> Role | None:
        """Compare against every key, in constant time each, so timing tells nothing about which matched."""
        found: Role | None = None
        for key, role in self.keys:
            if hmac.compare_digest(key, presented):
                found = role
        return found


def _presented_key(scope: Scope) -> bytes:
    headers = dict(scope["headers"])
    authorization = headers.get(b"authorization", b"")
    if authorization[:7].lower() == b"bearer ":
        return authorization[7:].strip()
    return headers.get(b"x-api-key", b"").strip()


def _deny(path: str, status: int, detail: str) -> JSONResponse:
    """The protocol endpoints answer in their own error format; native ones with a problem document."""
    if status == 401:
        return error_before_routing(
            path, 401, "Unauthorized", "unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="maas"'}
        )
    return error_before_routing(path, 403, "Forbidden", "forbidden", detail)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or OPEN.match(scope["path"]):
            return await self.app(scope, receive, send)
        path, presented = scope["path"], _presented_key(scope)
        role = self.keys.role_of(presented) if presented else None
        if role is None:
            detail = "invalid API key" if presented else "an API key is required: send 'Authorization: Bearer KEY'"
            return await _deny(path, 401, detail)(scope, receive, send)
        if role == "predict" and (ADMIN_ONLY.match(path) or (scope["method"] not in READS and not is_prediction(path))):
            detail = f"this key's role 'predict' may read and predict only; {scope['method']} {path} needs 'admin'"
            return await _deny(path, 403, detail)(scope, receive, send)
        return await self.app(scope, receive, send)
