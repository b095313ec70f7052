"""PredictInShards strategy: a version scores every row of a dataset through the runtime that serves it, one
shard of rows at a time (app/batch/output.py); a rerun after a crash skips the shards already written."""

from __future__ import annotations

import logging

import numpy as np

from app.batch.output import Shards, prediction_table
from app.training.pipeline import Reporter
from app.worker.scoring import ScoringContext
from app.worker.sinks import failpoint

log = logging.getLogger("maas.child")


def shards_of(job: ScoringContext) -> Shards:
    """Kept under the job's checkpoints: forgotten once it ends, there for a rerun after a crash."""
    return Shards(job.work_dir / "checkpoints" / "shards", job.data.rows, int(job.spec["shard_rows"]))


class PredictInShards:
    def run(self, job: ScoringContext, reporter: Reporter) -> Shards:
        shards = shards_of(job)
        classes = job.meta.classes if job.meta.task == "classification" else None
        done = shards.rows_done()
        if done:
            first = next(i for i in range(shards.count) if not shards.done(i))
            message = "job %s resumes at shard %d of %d (%d rows already written)"
            log.info(message, job.job.id, first, shards.count, done)
        job.report_rows(done)
        for index in range(shards.count):
            if shards.done(index):
                continue
            rows = shards.rows(index)
            outputs = job.predict(rows, int(job.spec["batch_size"]))
            shards.write(index, prediction_table(np.arange(rows.start, rows.stop), outputs, classes))
            done += len(rows)
            job.report_rows(done)
            failpoint(f"after_shard_{index}")
        return shards
