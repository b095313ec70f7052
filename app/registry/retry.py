"""Which storage errors are worth retrying, and the retry loop a publisher runs around them.

Transient: the storage failed or refused, nothing about the model did. A full disk or quota, an I/O error, a
read-only remount, a permission an operator can fix, a busy or throttled object store, a timeout or a dropped
connection (as OSError, which s3fs makes of S3's answers: EBUSY for SlowDown, EIO for a 5xx; or botocore's and
aiohttp's own connection errors, which can escape it). Anything else (a model Keras cannot save, an export
that fails, a bug) is permanent: retrying would give the same answer.
"""

from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("maas.registry")

T = TypeVar("T")

#: Tries of one publish before it gives up: the first and four more, waiting MAAS_PUBLISH_BACKOFF_S before the
#: second and twice as long before each next (1, 2, 4, 8 s by default).
TRIES = 5

TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC",
        "EDQUOT",
        "EIO",
        "EREMOTEIO",
        "EROFS",
        "EACCES",
        "EPERM",
        "EAGAIN",
        "EBUSY",
        "EINTR",
        "ETIMEDOUT",
        "ECONNRESET",
        "ECONNREFUSED",
        "ECONNABORTED",
        "EPIPE",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "ESTALE",
        "EMFILE",
        "ENFILE",
    )
    if hasattr(errno, name)
)
THROTTLING_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


class StorageUnavailable(Exception):
    """Storage kept failing with transient errors through every try; the work can be tried again later."""

    def __init__(self, what: str, tries: int, last: BaseException) -> None:
        super().__init__(f"{what} failed {tries} times in a row; the last error: {describe(last)}")
        self.tries = tries
        self.last = last


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, says the storage failed rather than the work."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, OSError):
        return exc.errno in TRANSIENT_ERRNOS
    module = type(exc).__module__
    if module.startswith("botocore"):
        return _transient_botocore(exc)
    if module.startswith("aiohttp"):
        import aiohttp

        return isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError))
    return False


def _transient_botocore(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as EndpointUnreachable

    if isinstance(exc, (HTTPClientError, EndpointUnreachable)):  # refused, reset, timed out, unreachable
        return True
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in THROTTLING_CODES or status == 429 or status >= 500
    return False


def with_retries(
    attempt: Callable[[], T],
    *,
    what: str,
    backoff_s: float,
    after_failure: Callable[[], None] = lambda: None,
) -> T:
    """`attempt()`, tried again after each transient error, `backoff_s` later and then twice as long each time
    (every wait stretched by up to half again at random, so that throttled publishers spread out);
    `after_failure` runs after each failed try (to drop what it left). A permanent error is raised as it is, at
    once; transient errors through all TRIES end in StorageUnavailable."""
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except Exception as exc:
            after_failure()
            if not is_transient(exc):
                raise
            if tries >= TRIES:
                raise StorageUnavailable(what, tries, exc) from exc
            wait = backoff_s * 2 ** (tries - 1) * (1 + random.random() / 2)
            log.warning("%s failed (%s); try %d of %d in %.2f s", what, describe(exc), tries + 1, TRIES, wait)
        time.sleep(wait)
