"""Evaluate strategy: a version's outputs on a dataset, through the runtime that serves it, scored."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.evaluation.checks import label_indices
from app.evaluation.report import classification_scores, regression_scores
from app.evaluation.schemas import EvaluatedData, Evaluation
from app.jobs.schemas import ModelRef
from app.training.evaluate import compiled_metrics
from app.training.pipeline import Reporter
from app.worker.scoring import ScoringContext

CHUNK_ROWS = 16_384  # progress is reported once per chunk


class Evaluate:
    def run(self, job: ScoringContext, reporter: Reporter) -> Evaluation:
        data, meta, batch_size = job.data, job.meta, int(job.spec["batch_size"])
        chunks = []
        for start in range(0, data.rows, CHUNK_ROWS):
            chunks.append(job.predict(range(start, min(start + CHUNK_ROWS, data.rows)), batch_size))
            job.report_rows(start + len(chunks[-1]))
        outputs = np.concatenate(chunks).astype(np.float64)
        if meta.task == "classification":
            truth = label_indices(meta, data)
            scores = classification_scores(truth, outputs, list(meta.classes or []))
        else:
            truth = data.y
            scores = regression_scores(truth, outputs)
        metrics = compiled_metrics(job.version_dir / meta.artifact, meta, data.x, truth, batch_size)
        return Evaluation(
            job_id=job.job.id,
            model=ModelRef(name=meta.name, version=meta.version),
            dataset=EvaluatedData(ref=job.spec["dataset"], sha256=data.sha256, rows=data.rows),
            created_at=datetime.now(UTC),
            metrics=metrics,
            **scores.model_dump(),
        )
