"""Resumable uploads onto object storage (`s3://bucket/prefix`), where nothing can be appended to: each upload is
an S3 multipart upload of `<prefix>/<id>/data.<format>`, beside its record.

S3 takes parts of at least 5 MiB (but the last), so the bytes of a PATCH are gathered in a local temporary file
and sent as a part whenever `part_bytes` have arrived; what is left when the PATCH ends (or its client goes away)
is stored as one small object, `<id>/tail`, to become the start of the next part. The state object
`<id>/upload.json` lists the parts with their ETags and the tail's size, written after each, so the offset a HEAD
reports (the parts plus the tail) is only ever bytes that S3 holds, on any replica and after any restart. A crash
loses at most the bytes since the last part or tail write, and the client sends those again from HEAD's offset.

The sha256 runs in this process as bytes arrive; when it is missing (a restart, another replica), the assembled
object is read back once at completion to hash it, since the parts of an unfinished multipart upload cannot be
read. One writer at a time is the client's to keep (tus clients send one PATCH at a time); there is no lock, so
an expired upload is removed once its state object has not been written for the expiry time: a PATCH in flight
writes it with every part, so one still sending is lost only if a part takes longer than that to arrive.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterable, Callable, Iterable
from typing import IO, Any

from pydantic import BaseModel

from app.datasets.catalog import ID_PATTERN, new_record
from app.datasets.remote_catalog import ObjectDatasetCatalog
from app.datasets.schemas import DatasetInfo
from app.datasets.service import delete_dataset
from app.uploads.body import BoundedBody, check_start
from app.uploads.errors import UploadNotFound
from app.uploads.hashing import RunningHashes, hash_stream
from app.uploads.metadata import UploadMetadata
from app.uploads.state import STATE, UploadState

MIN_PART_BYTES = 8 * 2**20  # S3's minimum is 5 MiB
MAX_PARTS = 9000  # S3 allows 10,000 parts: room for parts that run a chunk past part_bytes


class Part(BaseModel):
    number: int
    etag: str
    size: int


class ObjectUploadState(UploadState):
    multipart_id: str
    part_bytes: int
    parts: list[Part] = []
    tail: int = 0  # bytes in the tail object, not yet in a part
    assembled: bool = False  # the multipart upload is completed into the data object


class ObjectUploads:
    def __init__(self, url: str) -> None:
        self.catalog = ObjectDatasetCatalog(url)
        self.fs, self.root = self.catalog.fs, self.catalog.root
        self.hashes = RunningHashes()

    def create(
        self, *, meta: UploadMetadata, fields: dict[str, str], length: int
    ) -> tuple[ObjectUploadState, DatasetInfo]:
        """The multipart upload and its state, then the record (status `uploading`): a dataset is listed only once
        its upload can take bytes."""
        info = new_record(
            name=meta.name, format=meta.format.name, status="uploading", target=meta.target, task=meta.task
        )
        bucket, key = self._object(info.id, meta.format.name)
        started = self.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
        state = ObjectUploadState(
            id=info.id,
            length=length,
            format=meta.format.name,
            metadata=fields,
            created_at=info.created_at,
            multipart_id=started["UploadId"],
            part_bytes=max(MIN_PART_BYTES, -(-length // MAX_PARTS)),
        )
        self._write_state(state)
        return state, self.catalog.register(info)

    def read(self, upload_id: str) -> ObjectUploadState:
        try:
            if ID_PATTERN.fullmatch(upload_id):
                return ObjectUploadState.model_validate_json(self.fs.cat_file(self._state_object(upload_id)))
        except FileNotFoundError:
            pass
        msg = f"no upload with id {upload_id!r} (never created, terminated, expired, or its dataset deleted)"
        raise UploadNotFound(msg)

    def offset(self, state: ObjectUploadState) -> int:
        return state.length if state.assembled else sum(part.size for part in state.parts) + state.tail

    async def append(
        self, state: ObjectUploadState, *, offset: int, chunks: AsyncIterable[bytes], declared: int | None
    ) -> int:
        """Write the body at `offset` as parts (and a tail); the new offset. What arrived before the client went
        away is stored; a body past Upload-Length is refused (413) and the upload left as it was."""
        size = self.offset(state)
        check_start(state, offset=offset, size=size, declared=declared)
        digest = self.hashes.take(state.id, size)
        with tempfile.TemporaryFile(prefix="maas-upload-") as buffer:
            if state.tail:
                buffer.write(await asyncio.to_thread(self.fs.cat_file, self._tail(state.id)))
            current, received = state, 0
            body = BoundedBody(state, offset=offset, chunks=chunks)
            try:
                async for chunk in body:
                    buffer.write(chunk)
                    received += len(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    if buffer.tell() >= state.part_bytes:
                        current = await asyncio.to_thread(self._send_part, current, buffer)
            finally:
                if not body.overflowed and received:
                    current = await asyncio.to_thread(self._save_tail, current, buffer)
                    if digest is not None:
                        self.hashes.keep(state.id, offset + received, digest)
            if body.overflowed:  # back to the state before this PATCH: the next one overwrites its parts
                await asyncio.to_thread(self._write_state, state)
                raise body.refusal()
        return self.offset(current)

    async def finish(self, state: ObjectUploadState) -> DatasetInfo:
        """Assemble the parts into the data object and record its URL, size and sha256; idempotent, as the local
        uploads' is."""
        info = await asyncio.to_thread(self.catalog.read, state.id)
        if info.file_sha256 is not None:
            return info
        state = await asyncio.to_thread(self.read, state.id)  # as the last PATCH left it, not as it began
        if not state.assembled:
            state = await asyncio.to_thread(self._assemble, state)
        digest = self.hashes.take(state.id, state.length)
        if digest is None:
            digest = await asyncio.to_thread(self._hash_object, state)
        bucket, key = self._object(state.id, state.format)
        update = {"files": [f"s3://{bucket}/{key}"], "bytes": state.length, "file_sha256": digest.hexdigest()}
        return await asyncio.to_thread(self.catalog.update, info.model_copy(update=update))

    def mark_complete(self, state: ObjectUploadState) -> None:
        self._write_state(self.read(state.id).model_copy(update={"complete": True}))

    def terminate(self, state: ObjectUploadState, *, active_specs: Callable[[], Iterable[Any]]) -> None:
        """Abort an unfinished multipart upload, then delete the dataset (409 while a job uses a finished one)."""
        if not state.assembled:
            bucket, key = self._object(state.id, state.format)
            try:
                self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=state.multipart_id)
            except FileNotFoundError:  # s3fs' NoSuchUpload: aborted or completed already
                pass
        delete_dataset(self.catalog, state.id, active_specs=active_specs)
        self.hashes.drop(state.id)

    def unfinished(self) -> list[ObjectUploadState]:
        """The uploads whose profiling has not begun: those that may still be waiting for bytes."""
        states = (ObjectUploadState.model_validate_json(self.fs.cat_file(path)) for path in self._state_objects())
        return [state for state in states if not state.complete]

    def touched_at(self, state: ObjectUploadState) -> float | None:
        """When an unfinished upload last received bytes (or was created): its state object's LastModified, which
        every part and tail write moves. None once every byte is in: a finished upload never expires."""
        if self.offset(state) >= state.length:
            return None
        try:
            return float(self.fs.info(self._state_object(state.id))["LastModified"].timestamp())
        except FileNotFoundError:
            return None

    def expire(self, state: ObjectUploadState, *, touched_before: float) -> bool:
        """Abort an unfinished upload last written at or before `touched_before`, remove its dataset; whether it was.
        Looked at again first, so that one a PATCH wrote to since is left alone."""
        try:
            current = self.read(state.id)
        except UploadNotFound:
            return False
        touched = self.touched_at(current)
        if touched is None or touched > touched_before:
            return False
        self.terminate(current, active_specs=tuple)  # no job uses a dataset still uploading
        return True

    def _state_objects(self) -> list[str]:
        found = self.fs.glob(f"{self.root}/*/{STATE}")
        return [path for path in found if ID_PATTERN.fullmatch(path.rsplit("/", 2)[-2])]

    def _send_part(self, state: ObjectUploadState, buffer: IO[bytes]) -> ObjectUploadState:
        """The buffer (the tail, then this PATCH's bytes) as the next part; the state, recorded, with no tail."""
        buffer.seek(0)
        body = buffer.read()
        number = len(state.parts) + 1
        bucket, key = self._object(state.id, state.format)
        sent = self.fs.call_s3(
            "upload_part", Bucket=bucket, Key=key, UploadId=state.multipart_id, PartNumber=number, Body=body
        )
        parts = [*state.parts, Part(number=number, etag=sent["ETag"], size=len(body))]
        state = state.model_copy(update={"parts": parts, "tail": 0})
        self._write_state(state)
        buffer.seek(0)
        buffer.truncate()
        return state

    def _save_tail(self, state: ObjectUploadState, buffer: IO[bytes]) -> ObjectUploadState:
        size = buffer.tell()
        if size:
            buffer.seek(0)
            self.fs.pipe_file(self._tail(state.id), buffer.read())
            buffer.seek(size)
        state = state.model_copy(update={"tail": size})
        self._write_state(state)
        return state

    def _assemble(self, state: ObjectUploadState) -> ObjectUploadState:
        bucket, key = self._object(state.id, state.format)
        parts = list(state.parts)
        if state.tail:  # the last part may be smaller than S3's minimum
            body = self.fs.cat_file(self._tail(state.id))
            number = len(parts) + 1
            sent = self.fs.call_s3(
                "upload_part", Bucket=bucket, Key=key, UploadId=state.multipart_id, PartNumber=number, Body=body
            )
            parts.append(Part(number=number, etag=sent["ETag"], size=len(body)))
        listing = {"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]}
        try:
            self.fs.call_s3(
                "complete_multipart_upload",
                Bucket=bucket,
                Key=key,
                UploadId=state.multipart_id,
                MultipartUpload=listing,
            )
        except FileNotFoundError:  # completed by a request that crashed before recording it
            if not self.fs.exists(f"{bucket}/{key}"):
                raise
        state = state.model_copy(update={"parts": parts, "tail": 0, "assembled": True})
        self._write_state(state)
        if self.fs.exists(self._tail(state.id)):
            self.fs.rm_file(self._tail(state.id))
        return state

    def _hash_object(self, state: ObjectUploadState) -> Any:
        bucket, key = self._object(state.id, state.format)
        with self.fs.open(f"{bucket}/{key}", "rb") as f:
            return hash_stream(f)

    def _write_state(self, state: ObjectUploadState) -> None:
        self.fs.pipe_file(self._state_object(state.id), state.model_dump_json().encode())

    def _state_object(self, upload_id: str) -> str:
        return f"{self._folder(upload_id)}/{STATE}"

    def _folder(self, upload_id: str) -> str:
        return f"{self.root}/{upload_id}"

    def _tail(self, upload_id: str) -> str:
        return f"{self._folder(upload_id)}/tail"

    def _object(self, upload_id: str, fmt: str) -> tuple[str, str]:
        """The data object's bucket and key."""
        bucket, _, key = f"{self._folder(upload_id)}/data.{fmt}".partition("/")
        return bucket, key
