"""RFC 9457 problem documents, and the one table that maps domain errors to HTTP statuses."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import errors

log = logging.getLogger("maas.api")

PROBLEM_JSON = "application/problem+json"

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


def status_for(exc: errors.MaasError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def error_before_routing(
    path: str, status: int, title: str, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error a middleware answers before any route runs: in the TensorFlow Serving / Open Inference Protocol
    form, `{"error": ...}`, under their paths (/v1, /v2), and as a problem document everywhere else."""
    if path.startswith(("/v1/", "/v2")):
        response = JSONResponse({"error": detail}, status_code=status)
    else:
        response = problem(status, title, detail, code)
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
