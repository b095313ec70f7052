"""The tus protocol's own refusals. They subclass the domain errors whose status fits where one does (409, 404);
the three whose statuses the domain table has no row for (410, 412, 415) are mapped by the uploads routes."""

from __future__ import annotations

from app.errors import Conflict, MaasError, NotFound


class UnsupportedTusVersion(MaasError):
    """This server speaks tus 1.0.0: send 'Tus-Resumable: 1.0.0'."""

    code = "tus_version_unsupported"
    title = "Unsupported tus version"


class UnsupportedMediaType(MaasError):
    """A PATCH (or creation) body must be sent as 'Content-Type: application/offset+octet-stream'."""

    code = "unsupported_media_type"
    title = "Unsupported media type"


class UploadExpired(MaasError):
    """The upload expired unfinished and was removed: start a new upload."""

    code = "upload_expired"
    title = "Upload expired"


class UploadNotFound(NotFound):
    """No upload with that id (never created, terminated, expired, or its dataset deleted)."""

    code = "upload_not_found"


class OffsetMismatch(Conflict):
    """Upload-Offset is not where the upload ends: HEAD the upload for the offset to resume from."""

    code = "offset_mismatch"


class UploadBusy(Conflict):
    """Another request is writing to this upload; retry once it has finished."""

    code = "upload_busy"
