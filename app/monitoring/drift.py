"""A window of logged inputs and outputs against a version's baseline: per feature the population stability index
over the baseline's quantile bins and scipy's two-sample Kolmogorov-Smirnov test against its sample of training
values; the PSI of the predictions' distribution; `drifted` per feature and overall."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import ks_2samp

from app.monitoring.baseline import Baseline, FeatureBaseline, PredictionBaseline, predicted_classes, proportions

PSI_THRESHOLD = 0.2
EPSILON = 1e-4  # an empty bin's share, so that the PSI of a bin one side never saw stays finite


class BaselineSummary(BaseModel):
    dataset_sha256: str
    rows: int


class Window(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    rows: int


class FeatureDrift(BaseModel):
    feature: str
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    drifted: bool


class Thresholds(BaseModel):
    psi: float = Field(PSI_THRESHOLD, description="A feature (or the predictions) drifted when its PSI exceeds this.")
    ks_pvalue: float | None = Field(
        None, description="When set, a feature also drifted when its KS p-value is below this."
    )


class DriftReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    baseline: BaselineSummary
    window: Window
    features: list[FeatureDrift]
    prediction_psi: float | None
    drifted: bool
    thresholds: Thresholds

    @property
    def max_psi(self) -> float | None:
        values = [f.psi for f in self.features if f.psi is not None]
        return max(values, default=None)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, EPSILON, None), np.clip(actual, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def compare(
    baseline: Baseline,
    logged: tuple[np.ndarray, np.ndarray] | None,
    *,
    names: list[str],
    window: tuple[datetime, datetime],
    thresholds: Thresholds,
) -> DriftReport:
    """The window's logged (inputs, outputs), rows first, against `baseline`; none logged: every statistic null."""
    if logged is None:
        features = [FeatureDrift(feature=n, psi=None, ks_statistic=None, ks_pvalue=None, drifted=False) for n in names]
        rows, prediction = 0, None
    else:
        inputs, outputs = logged
        rows = len(inputs)
        flat = inputs.reshape(rows, -1).astype(np.float32)  # as the model and the baseline saw them
        features = [
            _feature(name, flat[:, index], reference, thresholds)
            for index, (name, reference) in enumerate(zip(names, baseline.features, strict=True))
        ]
        prediction = prediction_psi(baseline.predictions, outputs)
    return DriftReport(
        baseline=BaselineSummary(dataset_sha256=baseline.dataset_sha256, rows=baseline.rows),
        window=Window(from_=window[0], to=window[1], rows=rows),
        features=features,
        prediction_psi=prediction,
        drifted=any(f.drifted for f in features) or (prediction is not None and prediction > thresholds.psi),
        thresholds=thresholds,
    )


def _feature(name: str, column: np.ndarray, reference: FeatureBaseline, thresholds: Thresholds) -> FeatureDrift:
    score = psi(np.asarray(reference.proportions), proportions(column, np.asarray(reference.edges)))
    test = ks_2samp(column, np.asarray(reference.sample))
    pvalue = float(test.pvalue)
    drifted = score > thresholds.psi or (thresholds.ks_pvalue is not None and pvalue < thresholds.ks_pvalue)
    return FeatureDrift(feature=name, psi=score, ks_statistic=float(test.statistic), ks_pvalue=pvalue, drifted=drifted)


def prediction_psi(reference: PredictionBaseline, outputs: np.ndarray) -> float:
    expected = np.asarray(reference.proportions)
    if reference.kind == "classes":
        counts = np.bincount(predicted_classes(outputs), minlength=len(expected))[: len(expected)]
        return psi(expected, counts / len(outputs))
    first = outputs.reshape(len(outputs), -1)[:, 0]
    return psi(expected, proportions(first, np.asarray(reference.edges)))


def feature_names(dataset: dict[str, object], count: int) -> list[str]:
    """The training dataset's feature column names when its record has them, else "0", "1", ..."""
    for key in ("feature_names", "columns"):
        names = dataset.get(key)
        if isinstance(names, list) and len(names) == count:
            return [str(name) for name in names]
    return [str(i) for i in range(count)]
