"""One entry point from a spec's `dataset` reference to a loaded Dataset."""

from __future__ import annotations

from pathlib import Path

from app.datasets.builtin import load_builtin
from app.datasets.catalog import DatasetCatalog
from app.datasets.inline import load_inline
from app.datasets.types import Dataset
from app.training.spec import DatasetRef


def load_dataset(ref: DatasetRef, datasets_dir: Path) -> Dataset:
    """The dataset a spec names; uploaded datasets live in `datasets_dir` (DatasetNotFound if there is none)."""
    if ref.builtin is not None:
        return load_builtin(ref.builtin)
    if ref.inline is not None:
        return load_inline(ref.inline.x, ref.inline.y, ref.inline.task)
    assert ref.id is not None  # DatasetRef holds exactly one of the three
    return DatasetCatalog(datasets_dir).load(ref.id)
