"""The prediction routes' fast path: their POSTs go straight to their endpoint functions.

FastAPI's router tries every route in order and solves each endpoint's dependencies per request, which together
cost more than decoding a 784-float body and calling the model (profiled: about half of a request's time). The
three prediction protocols are the only routes under load, so this pure ASGI middleware matches their few path
templates first and calls the very endpoint functions their FastAPI routes call; those routes stay registered,
for the OpenAPI document and as the same behaviour through the normal path. Errors go through the app's own
exception handlers, and the middleware sits inside the auth, body-limit and metrics middleware, so nothing else
about a request changes. Behind a path prefix (an ASGI `root_path`) requests simply take the normal route.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from re import Pattern

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.protocols import Protocol

Endpoint = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class DirectRoute:
    """POST `path` (a route template, e.g. "/v1/models/{name}:predict") served by `endpoint(request, **params)`."""

    path: str
    endpoint: Endpoint
    regex: Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_path(self.path)[0])


def direct(endpoint: Endpoint) -> Endpoint:
    """Mark a POST endpoint for the fast path; it must take `request` and `serving` by those names (checked by
    `direct_routes` as the app is built)."""
    endpoint.direct = True  # type: ignore[attr-defined]
    return endpoint


def direct_routes(protocols: Iterable[Protocol]) -> list[DirectRoute]:
    """The marked endpoints of every protocol's router, each called with the request, its path parameters and the
    app's Serving; raises TypeError if one lacks `request` or `serving`, or if a protocol's marked POST routes
    are not exactly the prediction paths it declares (those a predict key may call)."""
    routes = []
    for protocol in protocols:
        marked = [r for r in protocol.router.routes if isinstance(r, APIRoute) and getattr(r.endpoint, "direct", False)]
        for route in marked:
            _check_endpoint(route)
        paths = sorted(r.path for r in marked)
        if paths != sorted(protocol.prediction_paths):
            raise TypeError(
                f"protocol {protocol.name!r} declares prediction paths {sorted(protocol.prediction_paths)} "
                f"but its @direct routes are {paths}"
            )
        routes += [DirectRoute(route.path, _with_serving(route.endpoint)) for route in marked]
    return routes


def _check_endpoint(route: APIRoute) -> None:
    name = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
    missing = [p for p in ("request", "serving") if p not in inspect.signature(route.endpoint).parameters]
    if missing:
        raise TypeError(f"{name} is marked @direct but takes no parameter {' or '.join(map(repr, missing))}")
    if route.methods != {"POST"}:
        raise TypeError(f"{name} is marked @direct but answers {sorted(route.methods)}; the fast path is POST only")


def _with_serving(endpoint: Endpoint) -> Endpoint:
    async def call(request: Request, **params: str) -> Response:
        return await endpoint(request=request, serving=request.app.state.serving, **params)

    return call


class DirectRoutes:
    """The middleware: a marked route's POST is served here, anything else passes on to the app."""

    def __init__(self, app: ASGIApp, routes: list[DirectRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            for route in self.routes:
                match = route.regex.match(scope["path"])
                if match is not None:
                    await self._serve(route, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, route: DirectRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["route"], scope["path_params"] = route, params  # as the router would set them (metrics read "route")
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request, **params)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _handler_for(
    handlers: dict[type[Exception] | int, Callable[..., object]], exc: Exception
) -> Callable[..., object] | None:
    """The app's handler for `exc`'s class or its nearest base, as Starlette looks it up."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
