"""What the TensorFlow Serving (/v1) and Open Inference Protocol (/v2) routes share: their errors are
`{"error": "message"}` (not problem documents) with the statuses those protocols use, and bodies are bytes
already encoded by the serving codecs.
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
from app.serving.service import Reply

log = logging.getLogger("maas.api")

#: TensorFlow Serving maps INVALID_ARGUMENT to 400 and NOT_FOUND to 404; Triton answers bad requests with 400.
STATUS_BY_ERROR: dict[type[errors.MaasError], int] = {
    errors.NotFound: 404,
    errors.Invalid: 400,
    errors.Conflict: 409,
    errors.NotReady: 503,
    errors.TooLarge: 413,
}


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, errors.MaasError):
        status = next((STATUS_BY_ERROR[c] for c in type(exc).__mro__ if c in STATUS_BY_ERROR), 500)
        return JSONResponse({"error": exc.detail}, status_code=status)
    request_id = uuid.uuid4().hex
    log.error("unhandled error (request %s)", request_id, exc_info=exc)
    return JSONResponse({"error": f"an unexpected error occurred; request id {request_id}"}, status_code=500)


def protocol_errors(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Answer any exception of `endpoint` as `{"error": ...}`; keeps its signature for FastAPI."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(*args, **kwargs)
            except Exception as exc:
                return error_response(exc)

        return guarded_async

    @functools.wraps(endpoint)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        except Exception as exc:
            return error_response(exc)

    return guarded


def reply_response(reply: Reply) -> Response:
    media_type = "application/octet-stream" if reply.headers else "application/json"
    return Response(reply.body, media_type=media_type, headers=reply.headers)


def unknown_path(method: str, path: str) -> JSONResponse:
    return JSONResponse({"error": f"Malformed request: {method} {path}"}, status_code=404)
