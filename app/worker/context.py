"""One claimed job as its child runs it: what it trains, on which data, from which model source, and how to
report onto it. Built once by `run_job`; strategies and sinks (app/worker/job_kinds.py) read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.datasets.types import Dataset
from app.jobs.schemas import Job
from app.settings import Settings
from app.training.checkpoints import Checkpoints
from app.training.model_source import ModelSource
from app.training.spec import TrainingSpec
from app.worker.reporters import JobReporting


@dataclass(frozen=True)
class JobContext:
    job: Job
    settings: Settings
    spec: TrainingSpec
    data: Dataset
    validation: Dataset | None
    source: ModelSource
    checkpoints: Checkpoints
    reporting: JobReporting  # opens a reporter onto this job from any process (a data-parallel rank 0's)

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def work_dir(self) -> Path:
        """`<data_dir>/jobs/<job_id>`: its checkpoints, TensorBoard logs and a sweep trial's staged model."""
        return self.settings.jobs_dir / self.job.id
