"""Every knob of maas, read from `MAAS_*` environment variables (pydantic-settings).

Nothing heavy happens at import: settings are plain data, built by `get_settings()` or by tests with
`Settings(data_dir=tmp_path)`, and passed down explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.storage import is_url, local_path


def _origins_in(text: str) -> tuple[str, ...]:
    """Comma-separated origins, without the trailing slash a browser's `Origin` never has."""
    return tuple(filter(None, (origin.strip().rstrip("/") for origin in text.split(","))))


class Settings(BaseSettings):
    """Service configuration; each field is the variable `MAAS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="MAAS_", extra="ignore")

    data_dir: Path = Field(Path("maas-data"), description="Where the SQLite file and the registry live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in the data dir.")
    registry_dir: str | None = Field(
        None,
        description="Model registry root: a path or an fsspec URL (s3://bucket/prefix); default: <data_dir>/registry.",
    )
    datasets_location: str = Field(
        "",
        # MAAS_DATASETS_DIR was this variable's first name; it stays accepted so existing deployments keep working.
        validation_alias=AliasChoices("datasets_location", "MAAS_DATASETS_LOCATION", "MAAS_DATASETS_DIR"),
        description="Uploaded datasets: a path or an fsspec URL (s3://bucket/prefix); default: <data_dir>/datasets.",
    )
    workers: int = Field(1, ge=0, le=64, description="Job slots of the embedded supervisor; 0 = API only.")
    prewarm: bool = Field(True, description="Keep one idle child with TensorFlow imported, ready for a job.")
    model_cache: int = Field(4, ge=1, description="Loaded model versions kept in memory (LRU).")
    max_params: int = Field(20_000_000, ge=1, description="Largest model (parameter count) a spec may ask for.")
    job_timeout_s: float | None = Field(None, gt=0, description="Longest a job may run; unset = no limit.")
    max_retries: int = Field(2, ge=0, le=20, description="Reruns of a job whose worker or process died.")
    shutdown_grace_s: float = Field(10.0, ge=0, description="On SIGTERM, how long running jobs may finish.")
    max_queued: int = Field(100, ge=1, description="Queued jobs beyond which POST /train answers 429.")
    max_request_mb: float = Field(10.0, gt=0, description="Largest request body (uploads: MAAS_MAX_UPLOAD_MB).")
    max_instances: int = Field(10_000, ge=1, description="Most rows one prediction request may send.")
    max_event_streams: int = Field(100, ge=1, description="Open job event streams per API process; more: 429.")
    api_keys: SecretStr | None = Field(
        None, description="Comma-separated KEY:ROLE pairs (roles: admin, predict); unset = no auth."
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host names answered with MAAS_API_KEYS unset, besides loopback; * = any.",
    )
    max_upload_mb: float = Field(100.0, gt=0, description="Largest dataset upload, in MiB.")
    batch_max_size: int = Field(64, ge=1, description="Most rows merged into one model call by the batcher.")
    batch_max_delay_ms: float = Field(2.0, ge=0, description="Longest a request waits for batch-mates.")
    host: str = Field("127.0.0.1", description="Address `maas serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `maas serve` listens on.")
    grpc_host: str = Field("127.0.0.1", description="Address the gRPC server listens on.")
    grpc_port: int = Field(8001, ge=0, le=65535, description="Port of the gRPC server (as Triton's); 0 = no gRPC.")
    poll_interval_s: float = Field(0.5, gt=0, description="How often a worker looks for queued jobs.")
    heartbeat_interval_s: float = Field(2.0, gt=0, description="How often a running job's heartbeat is written.")
    stale_after_s: float = Field(30.0, gt=0, description="A running job silent this long is requeued.")
    publish_backoff_s: float = Field(
        1.0,
        gt=0,
        description="First wait before a publish that failed on storage (a full disk, S3 down) is tried again;"
        " doubled on each of its 4 retries, then the job is requeued with its checkpoints.",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    executor: Literal["local", "ray"] = Field("local", description="Where jobs run: local child processes or Ray.")
    keras_backend: Literal["auto", "tensorflow", "jax"] = Field(
        "auto", description="Backend of specs saying backend 'auto'; auto = JAX where installed, else TensorFlow."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to submit jobs to (HEAD:6379); unset = a private Ray on 127.0.0.1."
    )

    webhook_hosts: str = Field(
        "", description="Comma-separated host names webhooks may be delivered to; unset = none (POST /webhooks 422)."
    )
    webhook_retry_hours: float = Field(24.0, gt=0, description="How long a failing webhook delivery is retried.")
    webhook_backoff_s: float = Field(
        10.0, gt=0, description="First retry delay of a failed webhook delivery; doubled on each failure."
    )
    webhook_poll_s: float = Field(2.0, gt=0, description="How often finished jobs are looked for (job events).")

    dataset_sources: str = Field(
        "",
        description="Comma-separated URL prefixes datasets may be registered from (s3://bucket/data/, file:///srv/);"
        " unset = none (POST /datasets with a source answers 422).",
    )
    max_upload_gb: float = Field(50.0, gt=0, description="Largest resumable upload (tus, /uploads), in GiB.")
    upload_expiry_hours: float = Field(
        24.0,
        ge=0,
        description="An unfinished resumable upload (tus, /uploads) is removed this long after it last received"
        " bytes (or was created), its dataset with it; 0 = never.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins (https://app.example.com) whose web pages may call the API, as browser"
        " tus clients (Uppy, tus-js-client) do; * = any; unset = no CORS headers.",
    )
    in_memory_mb: float = Field(
        1024.0, ge=0, description="A file-backed dataset larger than this is streamed into training, not loaded."
    )
    stream_cache: bool = Field(
        True,
        description="A training job keeps a streamed dataset's decoded rows in a file in its work folder, so that"
        " epochs after the first read them back instead of decoding the files again; skipped where the disk has"
        " less free space than the rows take as float32.",
    )

    payload_queue: int = Field(10_000, ge=1, description="Payload records queued for writing; beyond: dropped.")
    payload_batch_rows: int = Field(1000, ge=1, description="Payload records written per Parquet file at most.")
    payload_flush_s: float = Field(1.0, gt=0, description="Longest a payload record waits to be written.")
    drift_check_s: float = Field(
        300.0, ge=0, description="How often logged versions are checked for drift (last 24 h); 0 = only on request."
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maas.db').resolve()}"

    @property
    def allowed_host_names(self) -> frozenset[str]:
        """MAAS_ALLOWED_HOSTS as lowercased names."""
        return frozenset(filter(None, (name.strip().lower() for name in self.allowed_hosts.split(","))))

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """MAAS_CORS_ORIGINS as a tuple of origins, in the order given."""
        return _origins_in(self.cors_origins)

    @property
    def dataset_source_prefixes(self) -> tuple[str, ...]:
        """MAAS_DATASET_SOURCES as a tuple of prefixes, in the order given."""
        return tuple(filter(None, (prefix.strip() for prefix in self.dataset_sources.split(","))))

    @field_validator("api_keys", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`MAAS_API_KEYS=` (as compose passes an unset variable) means no keys, not an empty key list."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        """An origin is what a browser sends in `Origin`: a typo such as a missing scheme would never match one."""
        for origin in _origins_in(value):
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
                raise ValueError(
                    f"MAAS_CORS_ORIGINS entries must be origins such as https://app.example.com or"
                    f" http://localhost:3000 (scheme, host, optional port; no path), or *; got {origin[:100]!r}"
                )
        return value

    @field_validator("registry_dir", "datasets_location", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, Path) else value

    @model_validator(mode="after")
    def _locate_datasets(self) -> Settings:
        """An absolute default, so that a copy of these settings means the same place in another process."""
        if not self.datasets_location:
            self.datasets_location = str((self.data_dir / "datasets").resolve())
        elif not is_url(self.datasets_location):
            self.datasets_location = str(Path(self.datasets_location).resolve())
        return self

    @property
    def registry_location(self) -> str:
        """The registry root as an fsspec URL or an absolute local path."""
        if self.registry_dir and is_url(self.registry_dir):
            return self.registry_dir
        return str(self.resolved_registry_dir)

    @property
    def resolved_registry_dir(self) -> Path:
        """The registry root on this machine's filesystem (not for a remote URL: see `registry_location`)."""
        if self.registry_dir is None:
            return (self.data_dir / "registry").resolve()
        path = local_path(self.registry_dir)
        if path is None:
            raise ValueError(f"MAAS_REGISTRY_DIR {self.registry_dir!r} is remote storage, not a local path")
        return path.resolve()

    @property
    def cache_dir(self) -> Path:
        """This machine's copies of what lives on remote storage (registry versions it serves)."""
        return (self.data_dir / "cache").resolve()

    @property
    def jobs_dir(self) -> Path:
        """Per-job working files: checkpoints and TensorBoard logs."""
        return (self.data_dir / "jobs").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
