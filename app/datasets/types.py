"""The in-memory dataset every loader returns: features, encoded targets and what they mean."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

Task = Literal["classification", "regression"]


class Described(Protocol):
    """What `describe` reads: an in-memory `Dataset` and a `StreamedDataset` both answer it."""

    @property
    def name(self) -> str: ...

    @property
    def task(self) -> Task: ...

    @property
    def classes(self) -> list[str] | None: ...

    @property
    def rows(self) -> int: ...

    @property
    def feature_shape(self) -> list[int]: ...

    @property
    def sha256(self) -> str: ...


def describe(data: Described) -> dict[str, object]:
    """What the registry records about the training data, the same fields however the data is held."""
    return {
        "name": data.name,
        "rows": data.rows,
        "feature_shape": data.feature_shape,
        "task": data.task,
        "classes": data.classes,
        "sha256": data.sha256,
    }


@dataclass(frozen=True)
class Dataset:
    """Features `x` (float32, rows first) and targets `y`: class indices into `classes`, or float32 values."""

    name: str
    x: np.ndarray
    y: np.ndarray
    task: Task
    classes: list[str] | None

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def feature_shape(self) -> list[int]:
        return [int(d) for d in self.x.shape[1:]]

    @property
    def n_classes(self) -> int:
        return len(self.classes or [])

    @property
    def target_shape(self) -> list[int]:
        """Shape of one regression target ([] for a scalar target)."""
        return [int(d) for d in self.y.shape[1:]]

    @property
    def sha256(self) -> str:
        """Content hash of features, targets and label names, independent of where the data came from."""
        digest = hashlib.sha256()
        for array in (self.x, self.y):
            digest.update(str(array.shape).encode())
            digest.update(str(array.dtype).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\x1f".join(self.classes or []).encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, object]:
        """What the registry records about the training data."""
        return describe(self)
