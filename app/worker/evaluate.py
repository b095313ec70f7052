"""An evaluation: Evaluate scores a version's outputs on a dataset, through the runtime that serves it, and
StoreEvaluation keeps the result.

The rows are scored chunk by chunk (read from the files of a streamed dataset); the loss and compiled metrics
come from Keras on the same rows, over the arrays or over a stream of the files."""

from __future__ import annotations

from datetime import UTC, datetime

import keras
import numpy as np

from app.datasets.streamed import RowSplit, StreamedDataset
from app.evaluation.checks import class_mapping
from app.evaluation.report import classification_scores, regression_scores
from app.evaluation.schemas import EvaluatedData, Evaluation
from app.evaluation.store import EvaluationStore
from app.jobs.schemas import Job, ModelRef
from app.jobs.store import JobStore
from app.registry import ModelVersion
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.training.build import compile_model
from app.training.data import encode_targets
from app.training.epochs import StreamedRows
from app.training.evaluate import compiled_metrics
from app.training.fit import evaluate_streamed
from app.training.pipeline import Reporter
from app.training.spec import TrainingSpec
from app.worker.outcomes import Delivery, Plan
from app.worker.scoring import ScoringContext, scoring_context

CHUNK_ROWS = 16_384  # progress is reported once per chunk


class Evaluate:
    def run(self, job: ScoringContext, reporter: Reporter) -> Evaluation:
        data, meta, batch_size = job.data, job.meta, int(job.spec["batch_size"])
        chunks, targets = [], []
        for start in range(0, data.rows, CHUNK_ROWS):
            x, y = job.rows(range(start, min(start + CHUNK_ROWS, data.rows)))
            chunks.append(job.infer_rows(x, batch_size))
            targets.append(y)
            job.report_rows(start + len(x))
        outputs = np.concatenate(chunks).astype(np.float64)
        if meta.task == "classification":
            truth = class_mapping(meta, data)[np.concatenate(targets)]
            scores = classification_scores(truth, outputs, list(meta.classes or []))
        else:
            truth = np.concatenate(targets)
            scores = regression_scores(truth, outputs)
        if isinstance(data, StreamedDataset):
            metrics = _streamed_metrics(job, data, batch_size)
        else:
            metrics = compiled_metrics(job.version_dir / meta.artifact, meta, data.x, truth, batch_size)
        return Evaluation(
            job_id=job.job.id,
            model=ModelRef(name=meta.name, version=meta.version),
            dataset=EvaluatedData(ref=job.spec["dataset"], sha256=data.sha256, rows=data.rows),
            created_at=datetime.now(UTC),
            metrics=metrics,
            **scores.model_dump(),
        )


def _streamed_metrics(job: ScoringContext, data: StreamedDataset, batch_size: int) -> dict[str, float]:
    """What `compiled_metrics` gives for arrays, over a second pass of the files."""
    meta: ModelVersion = job.meta
    spec = TrainingSpec.model_validate(meta.spec)
    model = compile_model(
        keras.saving.load_model(job.version_dir / meta.artifact, compile=False, safe_mode=True), spec, 0.001
    )
    loss, n_classes = spec.loss_config.name, len(meta.classes or [])
    labels = class_mapping(meta, data) if meta.task == "classification" else None
    rows = StreamedRows(data, RowSplit(), lambda y: encode_targets(y, meta.task, loss, n_classes), labels)
    return evaluate_streamed(model, rows, batch_size)


class StoreEvaluation:
    """An evaluation's result goes into the evaluation table; its loss and metrics onto the job too."""

    def watch(self, job: ScoringContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: ScoringContext, outcome: Evaluation) -> Delivery:
        EvaluationStore(job.runs.engine).save(outcome)
        return Delivery(None, dict(outcome.metrics))


def plan(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    return Plan(scoring_context(job, settings, store), Evaluate(), StoreEvaluation())
