"""What the routes of the protocols with their own error form (TensorFlow Serving, Open Inference Protocol)
share: every exception of an endpoint answered in the protocol's envelope, with the table's status as the
protocol overrides it, and bodies that are bytes already encoded by the serving codecs.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from app import errors
from app.api.problems import status_for
from app.api.protocols import Protocol
from app.serving.service import Reply

log = logging.getLogger("maas.api")

Endpoint = Callable[..., Any]


def error_response(protocol: Protocol, exc: Exception) -> JSONResponse:
    if isinstance(exc, errors.MaasError):
        return protocol.envelope(status_for(exc, protocol), exc.title, exc.code, exc.detail)
    request_id = uuid.uuid4().hex
    log.error("unhandled error (request %s)", request_id, exc_info=exc)
    detail = f"an unexpected error occurred; request id {request_id}"
    return protocol.envelope(500, "Internal server error", "internal", detail)


def protocol_errors(protocol: Protocol) -> Callable[[Endpoint], Endpoint]:
    """A decorator answering any exception of an endpoint in `protocol`'s envelope; keeps its signature for
    FastAPI (and for the fast path's check of its parameters)."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await endpoint(*args, **kwargs)
                except Exception as exc:
                    return error_response(protocol, exc)

            return guarded_async

        @functools.wraps(endpoint)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return endpoint(*args, **kwargs)
            except Exception as exc:
                return error_response(protocol, exc)

        return guarded

    return wrap


def reply_response(reply: Reply) -> Response:
    return Response(reply.body, media_type=reply.media_type, headers=reply.headers)


def unknown_path(protocol: Protocol, method: str, path: str) -> JSONResponse:
    detail = f"Malformed request: {method} {path}"
    return protocol.envelope(404, "Not found", "http_404", detail)
