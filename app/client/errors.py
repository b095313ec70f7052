"""Problem documents (RFC 9457) as typed exceptions, so callers catch `NotFound` instead of parsing bodies."""

from __future__ import annotations

from typing import Any

import httpx


class MaasError(Exception):
    """A request maas refused or could not answer; `status` is None when no HTTP answer came at all."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: Any = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.code = code
        self.title = title
        self.errors = errors or []
        self.body = body
        super().__init__(f"{status} {code}: {detail}" if status else detail)


class BadRequest(MaasError):
    """400: the request could not be parsed."""


class Unauthorized(MaasError):
    """401: no API key, or an unknown one."""


class Forbidden(MaasError):
    """403: the API key's role does not allow this."""


class NotFound(MaasError):
    """404: no such job, model, version, alias or dataset."""


class Conflict(MaasError):
    """409: the resource's state forbids this (e.g. deleting a dataset a running job uses)."""


class TooLarge(MaasError):
    """413: the upload or request is larger than the server accepts."""


class InvalidRequest(MaasError):
    """422: well-formed but wrong (a spec that does not fit its data, inputs of the wrong shape)."""


class QueueFull(MaasError):
    """429: too many jobs queued; try again later."""


class ServerError(MaasError):
    """5xx: the server failed or is not ready."""


class MaasConnectionError(MaasError):
    """The server could not be reached, or the connection broke."""


BY_STATUS: dict[int, type[MaasError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: InvalidRequest,
    429: QueueFull,
}


def error_for(response: httpx.Response) -> MaasError:
    """The exception for an error response: a problem document's fields when there is one, else its text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"detail": response.text.strip() or response.reason_phrase}
    cls = BY_STATUS.get(response.status_code) or (ServerError if response.status_code >= 500 else MaasError)
    return cls(
        str(body.get("detail") or body.get("error") or body.get("title") or response.reason_phrase),
        status=response.status_code,
        code=body.get("code"),
        title=body.get("title"),
        errors=body.get("errors") if isinstance(body.get("errors"), list) else None,
        body=body,
    )


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """The response itself when it succeeded; its exception otherwise (the body must have been read)."""
    if response.is_success:
        return response
    raise error_for(response)
