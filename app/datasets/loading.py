"""One entry point from a spec's `dataset` reference to a loaded Dataset."""

from __future__ import annotations

from pathlib import Path

from app.datasets.builtin import load_builtin
from app.datasets.inline import load_inline
from app.datasets.types import Dataset
from app.errors import DatasetNotFound
from app.training.spec import DatasetRef


def load_dataset(ref: DatasetRef, datasets_dir: Path) -> Dataset:
    """The dataset a spec names; uploaded datasets live in `datasets_dir`."""
    if ref.builtin is not None:
        return load_builtin(ref.builtin)
    if ref.inline is not None:
        return load_inline(ref.inline.x, ref.inline.y, ref.inline.task)
    raise DatasetNotFound(f"no dataset with id {ref.id!r}")
