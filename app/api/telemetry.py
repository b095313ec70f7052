"""Request metrics for every route: a pure ASGI middleware (no per-request task or body copy, unlike
BaseHTTPMiddleware) that counts and times requests by method, route template, model and status.

Prediction routes name their model in `request.state.maas_model`; `Metrics` keeps that label only for models
that exist (a made-up name is `_unknown`), so that clients cannot add series. The route template comes from the
match.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.serving.metrics import Metrics

MODEL_STATE_KEY = "maas_model"


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            model = (scope.get("state") or {}).get(MODEL_STATE_KEY, "")
            self.metrics.observe_request(scope["method"], route, model, status, time.perf_counter() - started)
