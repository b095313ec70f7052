"""A version's baseline, computed at publish from (a bounded sample of) its training data: per feature a
quantile-bin histogram and a uniform sample of values (for a two-sample KS test), and the distribution of the
model's predictions on the same rows. Arrays in, so a dataset streamed from disk can hand over a sample.

Stored as `baseline.json` in the version folder: immutable like the version, read back by any registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

BASELINE_FILE = "baseline.json"
BINS = 10
MAX_ROWS = 10_000  # rows the histograms and the predictions are computed on
KS_ROWS = 2_000  # most stored sample values per feature ...
KS_VALUES = 200_000  # ... and over all features (an image's pixels share this)
MIN_KS_ROWS = 100


class FeatureBaseline(BaseModel):
    #: Interior bin edges (a value v falls in bin `searchsorted(edges, v, side="right")`).
    edges: list[float]
    proportions: list[float]
    #: A uniform sample of the feature's training values.
    sample: list[float]


class PredictionBaseline(BaseModel):
    #: "classes": proportions per predicted class; "bins": `output_0` binned like a feature.
    kind: Literal["classes", "bins"]
    edges: list[float] = []
    proportions: list[float]


class Baseline(BaseModel):
    dataset_sha256: str
    rows: int
    #: Rows the histograms were computed on (`rows`, or a uniform sample of them).
    sampled_rows: int
    features: list[FeatureBaseline]
    predictions: PredictionBaseline


def quantile_edges(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Distinct interior edges at the values' quantiles (ties merge bins, so a constant feature has one bin)."""
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]).astype(np.float32))


def proportions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each bin's share of `values`, compared as float32 (what the model sees): a logged value read back from
    JSON as float64 must land in the bin its training value did, also on a tie with an edge."""
    where = np.searchsorted(np.asarray(edges, dtype=np.float32), np.asarray(values, dtype=np.float32), side="right")
    counts = np.bincount(where, minlength=len(edges) + 1)
    return counts / max(1, len(values))


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """The class a classifier's outputs name: argmax of its probabilities, or a single sigmoid unit at 0.5."""
    flat = outputs.reshape(len(outputs), -1)
    return (flat[:, 0] >= 0.5).astype(int) if flat.shape[1] == 1 else flat.argmax(axis=1)


def compute_baseline(
    *,
    x: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    task: str,
    n_classes: int,
    dataset_sha256: str,
    rows: int,
    seed: int = 0,
) -> Baseline:
    """The baseline of training features `x` (all rows, or a sample of a larger dataset of `rows` rows)."""
    rng = np.random.default_rng(seed)
    if len(x) > MAX_ROWS:
        x = x[np.sort(rng.choice(len(x), MAX_ROWS, replace=False))]
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    ks_rows = min(KS_ROWS, max(MIN_KS_ROWS, KS_VALUES // max(1, flat.shape[1])))
    picked = rng.permutation(len(flat))[:ks_rows]
    features = []
    for column in flat.T:
        edges = quantile_edges(column)
        features.append(
            FeatureBaseline(
                edges=edges.tolist(), proportions=proportions(column, edges).tolist(), sample=column[picked].tolist()
            )
        )
    outputs = np.asarray(predict(np.asarray(x)), dtype=np.float32)
    return Baseline(
        dataset_sha256=dataset_sha256,
        rows=rows,
        sampled_rows=len(flat),
        features=features,
        predictions=prediction_baseline(outputs, task=task, n_classes=n_classes),
    )


def prediction_baseline(outputs: np.ndarray, *, task: str, n_classes: int) -> PredictionBaseline:
    if task == "classification":
        counts = np.bincount(predicted_classes(outputs), minlength=n_classes)
        return PredictionBaseline(kind="classes", proportions=(counts / max(1, len(outputs))).tolist())
    first = outputs.reshape(len(outputs), -1)[:, 0]
    edges = quantile_edges(first)
    return PredictionBaseline(kind="bins", edges=edges.tolist(), proportions=proportions(first, edges).tolist())


def write_baseline(folder: Path, baseline: Baseline) -> None:
    """Into a staged version folder, published (renamed or uploaded) with the rest of its files."""
    (folder / BASELINE_FILE).write_text(baseline.model_dump_json())
