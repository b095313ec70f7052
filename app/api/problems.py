"""The one table that maps domain errors to HTTP statuses (each protocol may override a few), and the native
API's exception handlers, which answer RFC 9457 problem documents."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import errors
from app.api.protocols import NATIVE, Protocol, protocol_at
from app.api.protocols.envelopes import problem

log = logging.getLogger("maas.api")

STATUS_BY_ERROR: dict[type[errors.MaasError], int] = {
    errors.NotFound: 404,
    errors.Invalid: 422,
    errors.Conflict: 409,
    errors.NotReady: 503,
    errors.MalformedBody: 400,
    errors.TooLarge: 413,
    errors.QueueFull: 429,
}

HTTP_TITLES = {400: "Malformed request", 404: "Not found", 405: "Method not allowed", 413: "Request too large"}


def status_for(exc: errors.MaasError, protocol: Protocol = NATIVE) -> int:
    """The status of `exc`'s nearest class in `protocol`'s overrides or the table; 500 for any other error."""
    for cls in type(exc).__mro__:
        if cls in protocol.status_overrides:
            return protocol.status_overrides[cls]
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_before_routing(
    path: str, status: int, title: str, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error a middleware answers before any route runs, in the envelope of the protocol owning `path`."""
    response = protocol_at(path).envelope(status, title, code, detail)
    response.headers.update(headers or {})
    return response


def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.MaasError)
    return problem(status_for(exc), exc.title, exc.detail, exc.code, errors=exc.errors)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [{"loc": [p for p in e["loc"] if p != "body"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in items):
        return problem(
            400, "Malformed request body", "the request body is not valid JSON", "malformed_body", errors=items
        )
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in items)
    return problem(422, "Invalid request", detail, "invalid_request", errors=items)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = HTTP_TITLES.get(exc.status_code, "HTTP error")
    return problem(exc.status_code, title, str(exc.detail), f"http_{exc.status_code}")


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = uuid.uuid4().hex
    log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id, exc_info=exc)
    return problem(
        500,
        "Internal server error",
        f"an unexpected error occurred; request id {request_id}",
        "internal",
        request_id=request_id,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.MaasError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
