"""Built-in datasets: scikit-learn's bundled ones (always offline) and MNIST from Keras' download cache.

scikit-learn is imported when a built-in is loaded, not with this module: every job child imports the dataset
loader, and a light one (profiling, batch prediction) would otherwise pay about 1.5 s and 100 MiB for it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.datasets.types import Dataset
from app.errors import DatasetUnavailable, InvalidSpec

_SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")  # each is sklearn.datasets.load_<name>
BUILTIN_NAMES = [*_SKLEARN, "mnist"]


def load_builtin(name: str) -> Dataset:
    if name == "mnist":
        return _load_mnist()
    if name not in _SKLEARN:
        raise InvalidSpec(
            f"unknown built-in dataset {name!r}; expected one of {BUILTIN_NAMES}",
            errors=[{"loc": ["dataset", "builtin"], "msg": f"expected one of {BUILTIN_NAMES}"}],
        )
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float32)  # type: ignore[attr-defined]
    target = np.asarray(bunch.target)  # type: ignore[attr-defined]
    names = getattr(bunch, "target_names", None)
    if name == "diabetes":
        return Dataset(name, x, target.astype(np.float32), "regression", None)
    classes = [str(c) for c in names] if names is not None else [str(c) for c in np.unique(target)]
    return Dataset(name, x, target.astype(np.int64), "classification", classes)


def _mnist_path() -> Path:
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "datasets" / "mnist.npz"


def _load_mnist() -> Dataset:
    """MNIST's training split from the file Keras' loader caches; there is no network to fetch it here."""
    path = _mnist_path()
    if not path.is_file():
        raise DatasetUnavailable(
            f"the built-in dataset 'mnist' is not cached at {path} and cannot be fetched from this machine; "
            "upload it or use one of the scikit-learn built-ins (digits is an 8x8 MNIST-like set)",
            errors=[{"loc": ["dataset", "builtin"], "msg": f"mnist.npz not found at {path}"}],
        )
    with np.load(path, allow_pickle=False) as data:
        x = data["x_train"].astype(np.float32) / 255.0
        y = data["y_train"].astype(np.int64)
    return Dataset("mnist", x, y, "classification", [str(i) for i in range(10)])
