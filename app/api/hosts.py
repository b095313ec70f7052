"""Open mode's guard against web pages: with no `MAAS_API_KEYS`, anything that reaches the port may use the API,
and a browser visiting a hostile page can be made to reach it.

Two ways in are closed. DNS rebinding: the page's own name is re-pointed at 127.0.0.1, so the browser's requests
carry `Host: evil.example`; only loopback names and `MAAS_ALLOWED_HOSTS` are answered (400 otherwise). Simple
cross-site requests: a plain HTML form (or a `fetch` without CORS preflight) may POST `text/plain`, URL-encoded or
multipart bodies anywhere; every maas body is JSON except dataset uploads (multipart), so those content types are
refused with 415 — but on the prediction paths of a protocol whose stock clients send them (TensorFlow Serving's
documented `curl -d`), which change nothing and whose answers a cross-site page cannot read. With API keys neither
applies: a page cannot attach the key header.
"""

from __future__ import annotations

import ipaddress

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import error_before_routing
from app.api.protocols import protocol_at

WITH_BODY = {"POST", "PUT", "PATCH"}
FORM_TYPES = (b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data")  # no preflight
UPLOADS = "/datasets"  # the one route whose body is a multipart form


def host_name(header: bytes) -> str:
    """The name in a Host header, lowercased, without its port (`[::1]:8000` -> `::1`)."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def is_loopback(name: str) -> bool:
    """localhost, its subdomains (browsers resolve them to loopback) or a loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class OpenModeGuard:
    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.any_host = "*" in allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        refusal = self._foreign_host(scope["path"], headers.get(b"host"))
        if refusal is None and scope["type"] == "http" and scope["method"] in WITH_BODY:
            refusal = _form_body(scope["path"], headers.get(b"content-type", b""))
        if refusal is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def _foreign_host(self, path: str, header: bytes | None) -> JSONResponse | None:
        if header is None or self.any_host:  # no Host header: not a browser (browsers always send one)
            return None
        name = host_name(header)
        if is_loopback(name) or name in self.allowed_hosts:
            return None
        detail = (
            f"Host {name[:100]!r} is not served: with MAAS_API_KEYS unset, maas answers only loopback names "
            "(localhost, 127.0.0.1, ::1) and those listed in MAAS_ALLOWED_HOSTS"
        )
        return error_before_routing(path, 400, "Host not allowed", "host_not_allowed", detail)


def _form_body(path: str, content_type: bytes) -> JSONResponse | None:
    media = content_type.split(b";", 1)[0].strip().lower()
    if media not in FORM_TYPES or (media == b"multipart/form-data" and path == UPLOADS):
        return None
    protocol = protocol_at(path)
    if protocol.predicts_from_form_bodies and protocol.is_prediction(path):
        return None
    detail = (
        f"the body is {media.decode('latin-1')!r}, but this endpoint expects JSON: send Content-Type: "
        "application/json (with MAAS_API_KEYS unset, form and plain-text bodies are refused, as a web page "
        "could send them)"
    )
    return error_before_routing(path, 415, "Unsupported media type", "unsupported_media_type", detail)
