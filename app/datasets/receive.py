"""Streams a multipart upload straight to disk, counting bytes as they arrive so that an oversized file is
refused (413) as soon as it passes the limit, not after it has been read whole.

Framework form parsing would spool the entire body before a route sees it; here the `file` part goes into a
staging folder chunk by chunk (hashed on the way) and the few text fields are kept in memory up to a small bound.
Writes are synchronous: chunks are small and land in the page cache, so the event loop is not held up noticeably.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.datasets.formats import EXTENSIONS, phrase
from app.errors import InvalidUpload, MalformedBody, TooLarge

FILE_FIELD = "file"
MAX_FIELD_BYTES = 4096
BODY_OVERHEAD = 64 * 1024  # boundaries, part headers and text fields on top of the file itself


@dataclass(frozen=True)
class ReceivedUpload:
    """The uploaded file on disk (never under the client's file name) and the text fields sent with it."""

    filename: str
    path: Path
    size: int
    sha256: str
    fields: dict[str, str]


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"the upload is larger than the limit of {max_bytes / 2**20:g} MiB (MAAS_MAX_UPLOAD_MB)")


def multipart_boundary(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        shown = kind.decode("latin-1") or "none"
        raise MalformedBody(f"expected a multipart/form-data body with a '{FILE_FIELD}' part; content type is {shown}")
    if not params.get(b"boundary"):
        raise MalformedBody("the multipart/form-data content type has no boundary")
    return params[b"boundary"]


async def receive_upload(
    chunks: AsyncIterable[bytes], content_type: str, content_length: str | None, folder: Path, max_bytes: int
) -> ReceivedUpload:
    """Write the body's `file` part to `folder/upload`; TooLarge once the file exceeds `max_bytes`."""
    boundary = multipart_boundary(content_type)
    if content_length and content_length.isdigit() and int(content_length) > max_bytes + BODY_OVERHEAD:
        raise too_large(max_bytes)
    sink = _PartSink(folder / "upload", max_bytes)
    parser = MultipartParser(boundary, sink.callbacks())
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_bytes + BODY_OVERHEAD:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise MalformedBody(f"the multipart body cannot be parsed: {exc}") from exc
    finally:
        sink.close()
    return sink.result()


class _PartSink:
    """python-multipart callbacks: one file part to disk, text parts to a dict, limits checked per byte."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.complete = False
        self._file: IO[bytes] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._header = (b"", b"")
        self._field: str | None = None
        self._text = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_part(data[start:end], b""),
            "on_header_value": lambda data, start, end: self._header_part(b"", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._header, self._field, self._text = {}, (b"", b""), None, bytearray()

    def _header_part(self, name: bytes, value: bytes) -> None:
        self._header = (self._header[0] + name, self._header[1] + value)

    def _header_end(self) -> None:
        self._headers[self._header[0].lower()] = self._header[1]
        self._header = (b"", b"")

    def _headers_finished(self) -> None:
        _disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise MalformedBody("a multipart part has no Content-Disposition name")
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            if name in self.fields or name == FILE_FIELD:
                raise InvalidUpload(f"form field {name!r} must be sent once, and '{FILE_FIELD}' as a file part")
            self._field = name
            return
        if name != FILE_FIELD or self.filename is not None:
            raise InvalidUpload(f"send exactly one file, as form field '{FILE_FIELD}' (got a file in {name!r})")
        self.filename = options[b"filename"].decode("utf-8", "replace")
        self._file = self.path.open("wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is None:
            self._text += chunk
            if len(self._text) > MAX_FIELD_BYTES:
                raise TooLarge(f"form field {self._field!r} is longer than {MAX_FIELD_BYTES} bytes")
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self._file.write(chunk)
        self.digest.update(chunk)

    def _part_end(self) -> None:
        if self._file is not None:
            self.close()
        elif self._field is not None:
            try:
                self.fields[self._field] = self._text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidUpload(f"form field {self._field!r} is not UTF-8 text") from exc

    def _end(self) -> None:
        self.complete = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def result(self) -> ReceivedUpload:
        if not self.complete:
            raise MalformedBody("the multipart body ended before its closing boundary")
        if not self.filename:
            msg = f"form field '{FILE_FIELD}' with the dataset file ({phrase(EXTENSIONS)}) is required"
            raise InvalidUpload(msg, errors=[{"loc": [FILE_FIELD], "msg": msg}])
        return ReceivedUpload(self.filename, self.path, self.size, self.digest.hexdigest(), self.fields)
