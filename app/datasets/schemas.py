"""What the dataset catalog returns: the Dataset record of API.md, plus a few fields that help use it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.datasets.formats import TABLES, FormatName, phrase
from app.datasets.types import Task


class DatasetInfo(BaseModel):
    """An uploaded dataset: how to train on it (`id`) and what it holds."""

    id: str
    name: str
    format: FormatName
    rows: int
    feature_shape: list[int]
    task: Task
    classes: list[str] | None = Field(description="Label names in class-index order; null for regression.")
    sha256: str = Field(description="Hash of the parsed arrays and label names: the same data, the same hash.")
    created_at: datetime
    target: str | None = Field(None, description=f"The label column of a {phrase([t.title for t in TABLES])} upload.")
    features: list[str] | None = Field(
        None, description="A table's feature columns, in the order prediction inputs must follow."
    )
    file_sha256: str = Field(description="Hash of the uploaded file's bytes.")
