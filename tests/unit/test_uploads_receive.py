"""Receiving a multipart upload: the file streams to disk, hashed, and the size limit holds while bytes arrive."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.datasets.receive import BODY_OVERHEAD, ReceivedUpload, receive_upload
from app.errors import InvalidUpload, MalformedBody, TooLarge

BOUNDARY = "x-b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
CHUNK = 64 * 1024


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    """A multipart/form-data body, as a browser or curl sends it."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
        for field, filename, content in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Body:
    """The body as an async stream of chunks that counts how many chunks were consumed."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            self.consumed += 1
            yield self.body[start : start + CHUNK]


def receive(
    body: bytes | Body, folder: Path, max_bytes: int = 2**20, content_type: str = CONTENT_TYPE
) -> ReceivedUpload:
    stream = body if isinstance(body, Body) else Body(body)
    return asyncio.run(receive_upload(stream, content_type, None, folder, max_bytes))


def test_file_part_is_written_to_disk_with_its_hash_and_fields_are_kept(tmp_path: Path) -> None:
    content = b"a,label\n" + b"1,x\n" * 50_000
    upload = receive(multipart({"name": "d", "target": "label"}, [("file", "d.csv", content)]), tmp_path)
    assert upload.filename == "d.csv" and upload.fields == {"name": "d", "target": "label"}
    assert upload.path == tmp_path / "upload" and upload.path.read_bytes() == content
    assert upload.size == len(content) and upload.sha256 == hashlib.sha256(content).hexdigest()


def test_oversized_file_is_refused_while_streaming_not_after(tmp_path: Path) -> None:
    body = Body(multipart({"name": "big"}, [("file", "big.csv", b"1" * (10 * 2**20))]))
    with pytest.raises(TooLarge) as info:
        receive(body, tmp_path, max_bytes=2**20)
    assert "1 MiB" in info.value.detail
    assert body.consumed <= 2**20 // CHUNK + 2, "the body was read on past the limit"


def test_declared_length_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    body = Body(b"")
    with pytest.raises(TooLarge):
        asyncio.run(receive_upload(body, CONTENT_TYPE, str(2**20 + BODY_OVERHEAD + 1), tmp_path, 2**20))


def test_a_long_text_field_is_too_large(tmp_path: Path) -> None:
    with pytest.raises(TooLarge):
        receive(multipart({"name": "n" * 10_000}, [("file", "d.csv", b"a")]), tmp_path)


def test_not_multipart_or_broken_bodies_are_malformed(tmp_path: Path) -> None:
    with pytest.raises(MalformedBody, match="application/json"):
        receive(b"{}", tmp_path, content_type="application/json")
    with pytest.raises(MalformedBody, match="no boundary"):
        receive(b"", tmp_path, content_type="multipart/form-data")
    with pytest.raises(MalformedBody, match="cannot be parsed"):
        receive(b"garbage that is no multipart body", tmp_path)
    complete = multipart({"name": "d"}, [("file", "d.csv", b"a,b\n")])
    with pytest.raises(MalformedBody, match="ended before"):
        receive(complete[: len(complete) // 2], tmp_path)


def test_the_file_part_is_required_and_must_be_alone(tmp_path: Path) -> None:
    with pytest.raises(InvalidUpload, match="'file'.*is required"):
        receive(multipart({"name": "d"}, []), tmp_path)
    with pytest.raises(InvalidUpload, match="exactly one file"):
        receive(multipart({}, [("file", "a.csv", b"a"), ("file", "b.csv", b"b")]), tmp_path)
    with pytest.raises(InvalidUpload, match="exactly one file"):
        receive(multipart({}, [("data", "a.csv", b"a")]), tmp_path)
    with pytest.raises(InvalidUpload, match="sent once"):
        receive(multipart({"file": "not a file"}, []), tmp_path)
