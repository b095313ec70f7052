"""The one place that reads a job's kind: how it trains (its strategy) and where its result goes (its sink).

A new kind of job is a new strategy or sink, and a line here; run_job (app/worker/job_run.py) stays as it is.
"""

from __future__ import annotations

from app.jobs.schemas import Job
from app.sweeps.store import SweepStore
from app.training.spec import TrainingSpec
from app.worker.sinks import PublishVersion, Sink, SweepTrial
from app.worker.strategies import DataParallel, LocalFit, Strategy


def strategy_for(spec: TrainingSpec) -> Strategy:
    """Data-parallel across Ray Train workers when the spec asks for more than one, else in this process."""
    return DataParallel() if spec.resources.workers > 1 else LocalFit()


def sink_for(job: Job, sweeps: SweepStore) -> Sink:
    """A sweep's trial stages its model for the sweep; any other job publishes a version."""
    return SweepTrial(sweeps) if job.sweep_id is not None else PublishVersion()
