"""tus' expiration extension: an unfinished upload expires `MAAS_UPLOAD_EXPIRY_HOURS` after it last received bytes
(or was created), so that abandoned uploads do not hold disk and list an `uploading` dataset for ever.

The storages say when an upload was last written (`touched_at`: a partial file's mtime, a state object's
LastModified, both durable across restarts and shared by replicas) and remove one under the lock a PATCH takes
(`expire`); the policy is here. An upload is removed when a client comes back to it too late (HEAD or PATCH, then
410 Gone) and by a sweep, run at start-up and then periodically off the event loop. A finished upload never
expires. Time comes in as `now`, so that no test needs to wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from app.uploads.errors import UploadExpired
from app.uploads.headers import http_date
from app.uploads.state import UploadState
from app.uploads.storage import Uploads

log = logging.getLogger("maas.uploads")

MIN_SWEEP_INTERVAL_S, MAX_SWEEP_INTERVAL_S = 1.0, 3600.0


@dataclass(frozen=True)
class Expiry:
    hours: float  # 0 = never

    @property
    def on(self) -> bool:
        return self.hours > 0

    @property
    def seconds(self) -> float:
        return self.hours * 3600

    @property
    def sweep_interval_s(self) -> float:
        """Often enough that an upload outlives its expiry by at most a quarter of it, or an hour."""
        return max(MIN_SWEEP_INTERVAL_S, min(MAX_SWEEP_INTERVAL_S, self.seconds / 4))

    def expires_at(self, uploads: Uploads, state: UploadState) -> float | None:
        """When the upload expires unless it receives bytes; None when it never will (expiry off, or finished)."""
        touched = uploads.touched_at(state) if self.on else None
        return None if touched is None else touched + self.seconds

    def check(self, uploads: Uploads, state: UploadState, *, now: float) -> float | None:
        """As `expires_at`; but an upload already past it is removed, with its dataset, and is UploadExpired (410)."""
        expires = self.expires_at(uploads, state)
        if self._removed_if_past(uploads, state, expires, now=now):
            raise UploadExpired(
                f"upload {state.id} expired unfinished at {http_date(expires)}, {self.hours:g} h after it last "
                f"received bytes (MAAS_UPLOAD_EXPIRY_HOURS), and its bytes and dataset were removed: start a new "
                "upload with POST /uploads"
            )
        return expires

    def sweep(self, uploads: Uploads, *, now: float) -> list[str]:
        """Remove every unfinished upload past its expiry; the ids removed."""
        if not self.on:
            return []
        removed = [
            state.id
            for state in uploads.unfinished()
            if self._removed_if_past(uploads, state, self.expires_at(uploads, state), now=now)
        ]
        if removed:
            log.info("removed %d expired upload(s) and their datasets: %s", len(removed), ", ".join(removed))
        return removed

    def _removed_if_past(self, uploads: Uploads, state: UploadState, expires: float | None, *, now: float) -> bool:
        """Whether the upload was past `expires` and is removed now (not while a PATCH is writing to it)."""
        return expires is not None and expires <= now and uploads.expire(state, touched_before=now - self.seconds)

    async def sweep_now(self, uploads: Uploads) -> None:
        """One sweep in a thread; one that fails (storage unreachable) is logged, for the next to try again."""
        try:
            await asyncio.to_thread(self.sweep, uploads, now=time.time())
        except Exception:
            log.exception("sweeping expired uploads failed; trying again in %g s", self.sweep_interval_s)

    async def sweep_periodically(self, uploads: Uploads) -> None:
        """Sweep every `sweep_interval_s` until cancelled."""
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            await self.sweep_now(uploads)
