"""DatasetRef: how a training spec names its data (API.md), with the inline data it may carry.

It lives with the datasets, not with the spec, so that loading a dataset needs nothing from `app.training`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datasets.types import Task


class _Closed(BaseModel):
    """Unknown fields are errors, as everywhere in a training spec: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class InlineData(_Closed):
    x: list[Any] = Field(min_length=1)
    y: list[Any] = Field(min_length=1)
    task: Task | None = None


class DatasetRef(_Closed):
    """Exactly one of a built-in dataset's name, an uploaded dataset's id, or inline data."""

    builtin: str | None = None
    id: str | None = None
    inline: InlineData | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DatasetRef:
        given = [k for k in ("builtin", "id", "inline") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'builtin', 'id' or 'inline' (got {given or 'none'})")
        return self
