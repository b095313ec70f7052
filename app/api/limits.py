"""A cap on request bodies: a client cannot make the server buffer gigabytes.

A declared `Content-Length` over the cap is refused before the body is read. Otherwise the body streams to the
route as it arrives (so that the batcher sees prediction requests still being received), and the read that takes
it past the cap raises `TooLarge`, which every route answers 413 in its own protocol's error format. Dataset
uploads have their own, larger cap (`MAAS_MAX_UPLOAD_MB`), enforced by the upload parser as the file streams to disk;
so do the chunks of a resumable upload (`PATCH /uploads/{id}`, bounded by its Upload-Length, `MAAS_MAX_UPLOAD_GB`).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import error_before_routing
from app.errors import TooLarge

UNCAPPED = ("/datasets", "/uploads")  # a tus creation may carry the first bytes, bounded by Upload-Length
UNCAPPED_PATCHES = "/uploads/"  # a tus chunk: written to disk as it arrives, never past the upload's declared length
WITH_BODY = {"POST", "PUT", "PATCH"}


def _too_large(path: str, limit: int) -> JSONResponse:
    return error_before_routing(path, 413, TooLarge.title, TooLarge.code, _detail(limit))


def _detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (MAAS_MAX_REQUEST_MB)"


def _uncapped(method: str, path: str) -> bool:
    return path in UNCAPPED or (method == "PATCH" and path.startswith(UNCAPPED_PATCHES))


class BodyTooLarge(TooLarge, HTTPException):
    """TooLarge (answered 413 by every route), and an HTTPException so that FastAPI's body parsing passes it on
    rather than calling it a malformed body (400)."""

    def __init__(self, limit: int) -> None:
        HTTPException.__init__(self, 413, _detail(limit))
        self.errors = []


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY or _uncapped(scope["method"], scope["path"]):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(scope["path"], self.max_bytes)(scope, receive, send)
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, noting_start)
        except BodyTooLarge:  # raised where no route's error handling answers it (e.g. a body read by a middleware)
            if started:
                raise
            await _too_large(scope["path"], self.max_bytes)(scope, receive, send)
