"""Where an upload's bytes go: `<datasets>/<id>/`, beside the dataset record it will become.

`upload.json` holds what was declared, `data.<format>.part` the bytes so far (appended as they arrive, synced
before a PATCH is answered or when its client goes away), and on the last byte the file is renamed to
`data.<format>`, which the record's `files` names. One writer at a time: a PATCH holds an exclusive `flock` on the
partial file, so two replicas sharing the folder cannot interleave bytes. The partial file's mtime is when the
upload last received bytes, which its expiry counts from (app/uploads/expiry.py); removing an expired upload takes
the same lock, so one being written to is never removed under its PATCH.

The sha256 of the bytes is kept running in this process: hashlib's state cannot be stored, and hashing as bytes
arrive costs nothing extra on the common path (one uninterrupted client, one process). When the running hash is
missing or at another offset (the server restarted, another replica took the previous PATCH), the bytes already
on disk are hashed once in a thread before the next ones are appended: that costs one read of what was uploaded,
paid only by a resumed upload, and the hash at completion needs no second pass over a file of many GB.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from app.datasets.catalog import ID_PATTERN, METADATA, DatasetCatalog, new_record
from app.datasets.schemas import DatasetInfo
from app.datasets.service import delete_dataset
from app.durable import fsync_dir
from app.errors import DatasetNotFound
from app.uploads.body import BoundedBody, check_start
from app.uploads.errors import UploadBusy, UploadNotFound
from app.uploads.hashing import RunningHashes, hash_stream
from app.uploads.metadata import UploadMetadata
from app.uploads.state import UploadState, read_state, write_state


def _hash_prefix(path: Path, size: int) -> Any:
    with path.open("rb") as f:
        return hash_stream(f, size)


def _sync(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())


class LocalUploads:
    """Resumable uploads into a local (or shared, mounted) datasets folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.catalog = DatasetCatalog(self.root)
        self.hashes = RunningHashes()

    def create(self, *, meta: UploadMetadata, fields: dict[str, str], length: int) -> tuple[UploadState, DatasetInfo]:
        """The upload and its dataset record (status `uploading`), staged then renamed: both exist, or neither."""
        info = new_record(
            name=meta.name, format=meta.format.name, status="uploading", target=meta.target, task=meta.task
        )
        state = UploadState(
            id=info.id, length=length, format=meta.format.name, metadata=fields, created_at=info.created_at
        )
        with self.catalog.staging() as staged:
            write_state(staged, state)
            (staged / self._part_name(state)).touch()
            self._write_record(staged, info)
            os.rename(staged, self.root / info.id)
        fsync_dir(self.root)
        return state, info

    def read(self, upload_id: str) -> UploadState:
        state = read_state(self._folder(upload_id)) if ID_PATTERN.fullmatch(upload_id) else None
        if state is None:
            msg = f"no upload with id {upload_id!r} (never created, terminated, expired, or its dataset deleted)"
            raise UploadNotFound(msg)
        return state

    def offset(self, state: UploadState) -> int:
        """The bytes received so far: the partial file's size, or the whole length once it has been renamed."""
        try:
            return (self._folder(state.id) / self._part_name(state)).stat().st_size
        except FileNotFoundError:
            if (self._folder(state.id) / self._final_name(state)).exists():
                return state.length
            raise self._gone(state) from None

    async def append(
        self, state: UploadState, *, offset: int, chunks: AsyncIterable[bytes], declared: int | None
    ) -> int:
        """Write the body at `offset`; the new offset. Whatever arrived is kept and synced, even when the client
        goes away mid-body; a body that would run past Upload-Length is refused (413) and changes nothing."""
        with self._locked(state) as f:
            size = os.fstat(f.fileno()).st_size
            check_start(state, offset=offset, size=size, declared=declared)
            digest = await self._digest_at(state, size)
            before, written = digest.copy(), 0
            body = BoundedBody(state, offset=offset, chunks=chunks)
            try:
                async for chunk in body:
                    f.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
            finally:
                await asyncio.to_thread(_sync, f)
                self.hashes.keep(state.id, offset + written, digest)
            if body.overflowed:
                f.truncate(offset)
                await asyncio.to_thread(_sync, f)
                self.hashes.keep(state.id, offset, before)
                raise body.refusal()
        return offset + written

    async def finish(self, state: UploadState) -> DatasetInfo:
        """Put the whole file where the record's `files` points and record its size and sha256; the record as
        stored. Idempotent, so that a crash anywhere until `mark_complete` is repaired by the next request."""
        folder = self._folder(state.id)
        part, final = folder / self._part_name(state), folder / self._final_name(state)
        if not final.exists():
            try:
                os.rename(part, final)
            except FileNotFoundError:  # its dataset was deleted while the last bytes arrived
                raise self._gone(state) from None
            fsync_dir(folder)
        info = self.catalog.read(state.id)
        if info.file_sha256 is None:
            digest = await self._digest_at(state, state.length, path=final)
            info = info.model_copy(update={"files": [final.as_uri()], "bytes": state.length})
            info = self.catalog.update(info.model_copy(update={"file_sha256": digest.hexdigest()}))
        self.hashes.drop(state.id)
        return info

    def mark_complete(self, state: UploadState) -> None:
        """Noted once the finished file's profiling has begun: until then, a HEAD or PATCH finishes it again."""
        write_state(self._folder(state.id), state.model_copy(update={"complete": True}))

    def terminate(self, state: UploadState, *, active_specs: Callable[[], Iterable[Any]]) -> None:
        """Remove an upload and its dataset: an unfinished one unless a PATCH is writing to it (409), a finished
        one as DELETE /datasets/{id} would (409 while a queued or running job uses it)."""
        if (self._folder(state.id) / self._part_name(state)).exists():
            with self._locked(state):
                delete_dataset(self.catalog, state.id, active_specs=active_specs)
        else:
            delete_dataset(self.catalog, state.id, active_specs=active_specs)
        self.hashes.drop(state.id)

    def unfinished(self) -> list[UploadState]:
        """The uploads whose profiling has not begun: those that may still be waiting for bytes."""
        folders = (
            (path for path in self.root.iterdir() if ID_PATTERN.fullmatch(path.name)) if self.root.is_dir() else ()
        )
        return [state for state in map(read_state, folders) if state is not None and not state.complete]

    def touched_at(self, state: UploadState) -> float | None:
        """When an unfinished upload last received bytes (or was created): its partial file's mtime, which every
        write moves. None once every byte is in: a finished upload never expires."""
        try:
            stat = (self._folder(state.id) / self._part_name(state)).stat()
        except FileNotFoundError:  # renamed to the finished file, or removed
            return None
        return stat.st_mtime if stat.st_size < state.length else None

    def expire(self, state: UploadState, *, touched_before: float) -> bool:
        """Remove an unfinished upload last written at or before `touched_before`, and its dataset; whether it was.
        Under the lock a PATCH holds, so that one being written to is left alone, as is one that a PATCH wrote to
        since it was looked at."""
        try:
            with self._locked(state) as f:
                stat = os.fstat(f.fileno())
                if stat.st_size >= state.length or stat.st_mtime > touched_before:
                    return False
                self.catalog.delete(state.id)  # no job uses a dataset still uploading
        except (UploadBusy, UploadNotFound, DatasetNotFound):
            return False
        self.hashes.drop(state.id)
        return True

    async def _digest_at(self, state: UploadState, size: int, *, path: Path | None = None) -> Any:
        known = self.hashes.take(state.id, size)
        if known is not None:
            return known
        return await asyncio.to_thread(_hash_prefix, path or self._folder(state.id) / self._part_name(state), size)

    @contextmanager
    def _locked(self, state: UploadState) -> Iterator[IO[bytes]]:
        try:
            f = (self._folder(state.id) / self._part_name(state)).open("r+b")
        except FileNotFoundError:
            raise self._gone(state) from None
        with f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(f"another request is writing to upload {state.id}; retry once it has ended") from None
            f.seek(0, os.SEEK_END)
            yield f

    def _folder(self, upload_id: str) -> Path:
        return self.root / upload_id

    @staticmethod
    def _part_name(state: UploadState) -> str:
        return f"data.{state.format}.part"

    @staticmethod
    def _final_name(state: UploadState) -> str:
        return f"data.{state.format}"

    @staticmethod
    def _write_record(folder: Path, info: DatasetInfo) -> None:
        """As the catalog's `register` writes it, but into the folder being staged with the upload's state, so
        that a crash leaves both or neither."""
        with (folder / METADATA).open("wb") as f:
            f.write(info.model_dump_json(indent=2).encode())
            _sync(f)

    @staticmethod
    def _gone(state: UploadState) -> UploadNotFound:
        return UploadNotFound(f"upload {state.id} was terminated, expired or its dataset deleted")
