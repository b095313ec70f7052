"""Domain errors. Each class's docstring is its default message and `code` is stable for clients.

No HTTP here: `app/api/problems.py` holds the one table that maps these classes to status codes.
"""

from __future__ import annotations

from typing import Any


class MaasError(Exception):
    """Something went wrong."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        self.errors = errors or []
        super().__init__(self.detail)


class NotFound(MaasError):
    """Not found."""

    code = "not_found"
    title = "Not found"


class JobNotFound(NotFound):
    """No job with that id."""

    code = "job_not_found"


class SweepNotFound(NotFound):
    """No sweep with that id."""

    code = "sweep_not_found"


class DatasetNotFound(NotFound):
    """No dataset with that id."""

    code = "dataset_not_found"


class ModelNotFound(NotFound):
    """No model with that name."""

    code = "model_not_found"


class VersionNotFound(NotFound):
    """No such version of that model."""

    code = "version_not_found"


class AliasNotFound(NotFound):
    """No such alias for that model."""

    code = "alias_not_found"


class WebhookNotFound(NotFound):
    """No such webhook."""

    code = "webhook_not_found"


class Invalid(MaasError):
    """The request is semantically invalid."""

    code = "invalid"
    title = "Invalid request"


class InvalidSpec(Invalid):
    """The training spec does not fit its dataset."""

    code = "invalid_spec"
    title = "Invalid training spec"


class InvalidName(Invalid):
    """Names must match ^[a-z0-9][a-z0-9._-]{0,63}$."""

    code = "invalid_name"
    title = "Invalid name"


class InvalidInput(Invalid):
    """The prediction inputs do not fit the model."""

    code = "invalid_input"
    title = "Invalid prediction input"


class DatasetUnavailable(Invalid):
    """The dataset cannot be loaded here."""

    code = "dataset_unavailable"
    title = "Dataset unavailable"


class InvalidUpload(Invalid):
    """The uploaded dataset cannot be used."""

    code = "invalid_upload"
    title = "Invalid dataset upload"


class InvalidSource(Invalid):
    """The dataset source cannot be registered."""

    code = "invalid_source"
    title = "Invalid dataset source"


class Conflict(MaasError):
    """The resource is in a state that does not allow this."""

    code = "conflict"
    title = "Conflict"


class ClaimLost(Conflict):
    """The job is no longer running under this worker (cancelled, or requeued and claimed by another)."""

    code = "claim_lost"


class DatasetInUse(Conflict):
    """A queued or running job uses this dataset."""

    code = "dataset_in_use"


class DatasetNotReady(Conflict):
    """The dataset is not ready to be used: it is still being uploaded or profiled, or profiling failed."""

    code = "dataset_not_ready"
    title = "Dataset not ready"


class MalformedBody(MaasError):
    """The request body cannot be parsed."""

    code = "malformed_body"
    title = "Malformed request body"


class TooLarge(MaasError):
    """The upload or request is larger than this service accepts."""

    code = "too_large"
    title = "Request too large"


class QueueFull(MaasError):
    """Too many jobs are queued; try again later."""

    code = "queue_full"
    title = "Queue full"


class NotReady(MaasError):
    """The service is not ready."""

    code = "not_ready"
    title = "Service not ready"
