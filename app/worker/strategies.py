"""How a job runs: a strategy turns the job into its outcome (a training `Outcome`, an evaluation, a batch's
shards), telling the reporter what happens on the way."""

from __future__ import annotations

from typing import Any, Protocol

from app.training.pipeline import Outcome, Reporter, train
from app.worker.context import JobContext


class Strategy(Protocol):
    def run(self, job: Any, reporter: Reporter) -> Any: ...


class LocalFit:
    """In this process, through the training pipeline (cross-validation, LR range test, the final fit). A
    streamed dataset's row cache lives among the job's checkpoints, so that every way a job's checkpoints go
    (success, failure, a cancel that kills the child, a timeout) takes it too."""

    def run(self, job: JobContext, reporter: Reporter) -> Outcome:
        return train(
            job.spec,
            job.data,
            job.validation,
            reporter=reporter,
            source=job.source,
            checkpoints=job.checkpoints,
            tensorboard_dir=job.work_dir / "tensorboard",
            row_cache_dir=job.checkpoints.root / "row-cache" if job.settings.stream_cache else None,
        )


class DataParallel:
    """On `resources.workers` Ray Train workers (MAAS_EXECUTOR=ray only). Their rank 0 reports from its own
    process, through `job.reporting`: a reporter given here lives in this one, so a sweep trial trained this way
    reports its epochs but is not pruned."""

    def run(self, job: JobContext, reporter: Reporter) -> Outcome:
        from app.worker.ray.data_parallel import train_data_parallel  # imports Ray

        return train_data_parallel(job)
