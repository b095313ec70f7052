"""The two error bodies maas answers in: RFC 9457 problem documents (native API) and `{"error": "message"}`
(TensorFlow Serving and the Open Inference Protocol)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_envelope(status: int, title: str, code: str, detail: str) -> JSONResponse:
    return problem(status, title, detail, code)


def error_envelope(status: int, _title: str, _code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)
