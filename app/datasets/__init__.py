"""Datasets: built-ins from scikit-learn, inline data and uploads; each becomes numpy arrays plus label names.

`load_dataset` is imported on first use, so that the spec and the CLI (which name formats and references from
here) do not load scikit-learn, fsspec or pandas.
"""

from __future__ import annotations

from typing import Any

from app.datasets.refs import DatasetRef, InlineData
from app.datasets.types import Dataset

__all__ = ["Dataset", "DatasetRef", "InlineData", "load_dataset"]


def __getattr__(name: str) -> Any:
    if name == "load_dataset":
        from app.datasets.loading import load_dataset

        return load_dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
