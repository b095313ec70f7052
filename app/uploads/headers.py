"""The tus 1.0 headers: what this server advertises, and the request headers it reads, parsed strictly so that
a malformed one is a 400 naming it rather than a guess."""

from __future__ import annotations

import base64
import binascii
from email.utils import formatdate

from app.errors import MalformedBody
from app.uploads.errors import UnsupportedMediaType, UnsupportedTusVersion

TUS_VERSION = "1.0.0"
EXTENSIONS = ("creation", "creation-with-upload", "termination")
EXPIRATION = "expiration"
CHUNK_TYPE = "application/offset+octet-stream"
#: What a browser tus client (Uppy, tus-js-client) sends and reads, for CORS to allow and expose.
REQUEST_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "X-HTTP-Method-Override")
RESPONSE_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
)


def check_version(value: str | None) -> None:
    """Every request but OPTIONS names the protocol version it speaks (412 for any other, as the spec says)."""
    if value != TUS_VERSION:
        got = "no Tus-Resumable header" if value is None else f"Tus-Resumable {value[:40]!r}"
        msg = f"this server speaks tus {TUS_VERSION}: send 'Tus-Resumable: {TUS_VERSION}' ({got})"
        raise UnsupportedTusVersion(msg)


def check_chunk_type(value: str | None) -> None:
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != CHUNK_TYPE:
        shown = media[:60] or "none"
        msg = f"an upload's bytes (a PATCH or creation body) must be sent as 'Content-Type: {CHUNK_TYPE}'; got {shown}"
        raise UnsupportedMediaType(msg)


def byte_count(value: str | None, header: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset, Content-Length)."""
    if value is None:
        raise MalformedBody(f"the {header} header is required")
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise MalformedBody(f"{header} must be a non-negative integer (bytes); got {value[:40]!r}")
    return int(text)


def parse_metadata(value: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs, keys unique, a value may be absent (empty).

    Values are decoded as UTF-8 text: every key maas reads is text, and one that is not is a 400 naming it."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (value or "").split(","))):
        key, _, encoded = item.partition(" ")
        if key in pairs:
            raise MalformedBody(f"Upload-Metadata names {key[:40]!r} twice; keys must be unique")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            msg = f"Upload-Metadata value of {key[:40]!r} must be base64-encoded UTF-8 text"
            raise MalformedBody(msg) from exc
    return pairs


def capabilities(max_bytes: int, *, expiring: bool) -> dict[str, str]:
    """What OPTIONS tells a client before it starts; `expiration` only where unfinished uploads do expire."""
    extensions = (*EXTENSIONS, EXPIRATION) if expiring else EXTENSIONS
    return {"Tus-Version": TUS_VERSION, "Tus-Extension": ",".join(extensions), "Tus-Max-Size": str(max_bytes)}


def http_date(timestamp: float) -> str:
    """Upload-Expires' format, RFC 9110's IMF-fixdate: `Wed, 03 Dec 2026 09:00:00 GMT`."""
    return formatdate(timestamp, usegmt=True)
