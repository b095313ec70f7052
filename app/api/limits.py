"""A cap on request bodies: a client cannot make the server buffer gigabytes.

A declared `Content-Length` over the cap is refused before the body is read; a body without one (chunked) is
read up to the cap and refused once it passes it, before the route runs. Bodies under the cap are handed on
whole (FastAPI buffers them anyway). Dataset uploads have their own, larger cap (`MAAS_MAX_UPLOAD_MB`),
enforced by the upload parser as the file streams to disk.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import PROBLEM_JSON

UNCAPPED = ("/datasets",)
WITH_BODY = {"POST", "PUT", "PATCH"}


def _too_large(path: str, limit: int) -> JSONResponse:
    detail = f"the request body is larger than {limit} bytes (MAAS_MAX_REQUEST_MB)"
    if path.startswith(("/v1/", "/v2")):
        return JSONResponse({"error": detail}, status_code=413)
    body = {"type": "about:blank", "title": "Request too large", "status": 413, "code": "too_large", "detail": detail}
    return JSONResponse(body, status_code=413, media_type=PROBLEM_JSON)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY or scope["path"] in UNCAPPED:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(scope["path"], self.max_bytes)(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _too_large(scope["path"], self.max_bytes)(scope, receive, send)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
