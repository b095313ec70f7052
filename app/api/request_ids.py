"""The client's `X-Request-Id`, which makes an alias' canary split sticky per request."""

from __future__ import annotations

from starlette.requests import Request

MAX_LENGTH = 200


def request_id(request: Request) -> str | None:
    """The header's value, read off the raw headers (this is on every prediction's path); None when absent."""
    for key, value in request.scope["headers"]:
        if key == b"x-request-id":
            return value[:MAX_LENGTH].decode("latin-1") or None
    return None
