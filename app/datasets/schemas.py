"""What the dataset catalog returns: the Dataset record of API.md, plus a few fields that help use it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.datasets.formats import TABLES, FormatName, phrase
from app.datasets.types import Task

DatasetStatus = Literal["uploading", "profiling", "ready", "failed"]


class DatasetInfo(BaseModel):
    """A dataset: how to train on it (`id`) and what it holds.

    An upload through `POST /datasets` (multipart) is parsed whole and `ready` at once. A registered source and a
    resumable upload are files read where they lie (`files`): their rows, shape, task, classes, hashes and
    feature statistics are null until the profile job has read them once (status `profiling`, then `ready`, or
    `failed` with `error`).
    """

    id: str
    name: str
    format: FormatName
    status: DatasetStatus = "ready"
    source: str | None = Field(None, description="The URL a dataset was registered from; null for uploads.")
    error: str | None = Field(None, description="Why profiling failed: the file, column and row.")
    rows: int | None
    feature_shape: list[int] | None
    task: Task | None
    classes: list[str] | None = Field(description="Label names in class-index order; null for regression.")
    sha256: str | None = Field(description="Hash of the parsed arrays and label names: the same data, the same hash.")
    created_at: datetime
    target: str | None = Field(None, description=f"The label column of a {phrase([t.title for t in TABLES])} upload.")
    features: list[str] | None = Field(
        None, description="A table's feature columns, in the order prediction inputs must follow."
    )
    file_sha256: str | None = Field(None, description="Hash of the uploaded file's bytes.")
    files: list[str] | None = Field(
        None, description="A file-backed dataset's Parquet or CSV files (URLs), in the order they are read."
    )
    bytes: int | None = Field(None, description="The total size of `files`.")
    feature_mean: list[float] | None = Field(None, description="Per feature, from profiling (for normalization).")
    feature_std: list[float] | None = Field(None, description="Per feature, from profiling (population std).")
