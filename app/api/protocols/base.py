"""What a serving protocol declares once, for every part of the app that treats protocols differently."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from re import Pattern
from types import ModuleType

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.routing import compile_path

from app.errors import MaasError

#: An error body in the protocol's own form, from (status, title, code, detail).
Envelope = Callable[[int, str, str, str], JSONResponse]


@dataclass(frozen=True)
class Protocol:
    """A serving protocol: the app's router registration, fast path, predict-role writes, error bodies before
    routing and error statuses all read these fields, so a new protocol is a codec, routes and one descriptor."""

    name: str
    #: The path space it owns ("" = none: the native API, whose errors every other path also gets).
    prefix: str
    #: Full route templates of its POST prediction endpoints: the fast path serves them, a predict key may call them.
    prediction_paths: tuple[str, ...]
    envelope: Envelope
    #: Statuses that differ from the one table of app/api/problems.py, by domain error class.
    status_overrides: Mapping[type[MaasError], int]
    #: Its payload codec (app/serving/codecs), which its routes call.
    codec: ModuleType
    #: The module holding its `router`, imported when the app is built (its routes import this descriptor).
    routes: str
    #: Its prediction paths take JSON sent as a form body (TensorFlow Serving's documented `curl -d` sends
    #: `application/x-www-form-urlencoded`); open mode's guard against cross-site form posts lets these through.
    predicts_from_form_bodies: bool = False
    _patterns: tuple[Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_patterns", tuple(compile_path(p)[0] for p in self.prediction_paths))

    @property
    def router(self) -> APIRouter:
        router: APIRouter = importlib.import_module(self.routes).router
        return router

    def owns(self, path: str) -> bool:
        """Whether `path` is in this protocol's path space (its prefix, or under it)."""
        return bool(self.prefix) and (path == self.prefix or path.startswith(self.prefix + "/"))

    def is_prediction(self, path: str) -> bool:
        return any(pattern.match(path) for pattern in self._patterns)
