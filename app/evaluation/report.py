"""Scores of a version's outputs against a dataset's targets, with scikit-learn: what a confusion matrix,
per-class precision/recall/F1 and ROC AUC say for a classifier, MAE/RMSE/R^2 and residual quantiles for a
regressor. Outputs are the serving runtime's, so the matrix agrees with what `/predict` answers."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from app.evaluation.schemas import ClassScores, ConfusionMatrix, RegressionScores, Scores

QUANTILES = (0.05, 0.5, 0.95)


def predicted_indices(outputs: np.ndarray) -> np.ndarray:
    """The class `/predict` names per row: p > 0.5 for a single sigmoid unit, else the highest output."""
    return (outputs[:, 0] > 0.5).astype(int) if outputs.shape[-1] == 1 else outputs.argmax(axis=-1)


def positive_probability(outputs: np.ndarray) -> np.ndarray:
    return outputs[:, 0] if outputs.shape[-1] == 1 else outputs[:, 1]


def classification_scores(truth: np.ndarray, outputs: np.ndarray, classes: list[str]) -> Scores:
    """`truth`: class indices into `classes` (the model's labels)."""
    indices = list(range(len(classes)))
    predicted = predicted_indices(outputs)
    matrix = skm.confusion_matrix(truth, predicted, labels=indices)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        truth, predicted, labels=indices, zero_division=0
    )
    per_class = {
        label: ClassScores(precision=float(p), recall=float(r), f1=float(f), support=int(s))
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
    roc_auc = None
    if len(classes) == 2 and len(np.unique(truth)) == 2:
        roc_auc = float(skm.roc_auc_score(truth, positive_probability(outputs)))
    return Scores(
        confusion_matrix=ConfusionMatrix(labels=list(classes), matrix=matrix.tolist()),
        per_class=per_class,
        roc_auc=roc_auc,
    )


def regression_scores(truth: np.ndarray, outputs: np.ndarray) -> Scores:
    target = truth.reshape(len(truth), -1).astype(np.float64)
    residuals = (target - outputs.reshape(target.shape)).ravel()
    r2 = float(skm.r2_score(target, outputs)) if len(target) > 1 else None
    return Scores(
        regression=RegressionScores(
            mae=float(np.mean(np.abs(residuals))),
            rmse=float(np.sqrt(np.mean(residuals**2))),
            r2=r2,
            residual_quantiles={str(q): float(np.quantile(residuals, q)) for q in QUANTILES},
        )
    )
