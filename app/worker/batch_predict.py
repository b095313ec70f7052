"""A batch prediction: PredictInShards scores every row of a dataset through the runtime that serves the version,
one shard of rows at a time (app/batch/output.py; a rerun after a crash skips the shards already written), and
WriteOutput joins the shards into the job's output file.

Imports no Keras: its child is a light one (app/worker/job_kinds.py). Only a version without a verified ONNX
export loads Keras, when scoring_context opens its TensorFlow runtime."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from app.batch.output import Shards, output_name, prediction_table
from app.jobs.schemas import Job
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.worker.outcomes import Delivery, Plan, failpoint
from app.worker.scoring import ScoringContext, scoring_context

if TYPE_CHECKING:
    from app.training.pipeline import Reporter

log = logging.getLogger("maas.child")


def shards_of(job: ScoringContext) -> Shards:
    """Kept under the job's checkpoints: forgotten once it ends, there for a rerun after a crash."""
    return Shards(job.work_dir / "checkpoints" / "shards", job.data.rows, int(job.spec["shard_rows"]))


class PredictInShards:
    def run(self, job: ScoringContext, reporter: Reporter) -> Shards:
        shards = shards_of(job)
        classes = job.meta.classes if job.meta.task == "classification" else None
        done = shards.rows_done()
        todo = [index for index in range(shards.count) if not shards.done(index)]
        if done and todo:
            message = "job %s resumes at shard %d of %d (%d rows already written)"
            log.info(message, job.job.id, todo[0], shards.count, done)
        job.report_rows(done)
        ranges = [shards.rows(index) for index in todo]
        # A shard is written (table built, Parquet encoded, fsynced) in a thread while the next one is scored,
        # and counted, and its failpoint passed, once it is on disk and before the next write begins.
        with ThreadPoolExecutor(1, thread_name_prefix="shard-writer") as writer:
            writing: tuple[int, int, Future[None]] | None = None
            for number, outputs in job.predict_ranges(ranges, int(job.spec["batch_size"])):
                if writing is not None:
                    done = _written(job, *writing, done=done)
                index, rows = todo[number], ranges[number]
                writing = index, len(rows), writer.submit(_write, shards, index, rows, outputs, classes)
            if writing is not None:
                _written(job, *writing, done=done)
        return shards


def _write(shards: Shards, index: int, rows: range, outputs: np.ndarray, classes: list[str] | None) -> None:
    shards.write(index, prediction_table(np.arange(rows.start, rows.stop), outputs, classes))


def _written(job: ScoringContext, index: int, rows: int, write: Future[None], *, done: int) -> int:
    """The rows done once shard `index` (`rows` rows) is written: reported, then its failpoint."""
    write.result()
    done += rows
    job.report_rows(done)
    failpoint(f"after_shard_{index}")
    return done


class WriteOutput:
    """A batch prediction's shards joined into its one output file, `<work_dir>/output/predictions.<format>`."""

    def watch(self, job: ScoringContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: ScoringContext, outcome: Shards) -> Delivery:
        fmt = job.spec["format"]
        outcome.join(job.work_dir / "output" / output_name(fmt), fmt)
        return Delivery(None, {"rows": float(outcome.total_rows)})


def plan(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    # Every row is read once, in order: a file-backed dataset is streamed whatever its size (loading one whole
    # would hold all of it, and a copy, for no gain).
    return Plan(scoring_context(job, settings, store, in_memory_mb=0), PredictInShards(), WriteOutput())
