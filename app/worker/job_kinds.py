"""The one place that reads a job's kind: which module plans it (its context, strategy and sink), and whether
its child needs Keras at all.

Each kind's planner is imported only when a job of that kind runs, so a profile or batch-prediction child never
imports the training modules (Keras, TensorFlow: over a GB of memory and seconds of import). A new kind of job
is a planner module named here; run_job (app/worker/job_run.py) stays as it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from app.jobs.schemas import Job, JobKind
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.store import SweepStore
from app.worker.outcomes import Plan

Planner = Callable[[Job, Settings, JobStore, SweepStore], Plan]


@dataclass(frozen=True)
class KindPlanner:
    """`module`'s `plan` plans the kind's jobs; `light`: the kind runs without Keras, in a child that never
    imported it (a batch prediction whose version has no verified ONNX export imports Keras when it opens it)."""

    module: str
    light: bool = False

    def load(self) -> Planner:
        return importlib.import_module(self.module).plan


PLANNERS: dict[JobKind, KindPlanner] = {
    JobKind.TRAIN: KindPlanner("app.worker.train_plan"),
    JobKind.EVALUATE: KindPlanner("app.worker.evaluate"),
    JobKind.PREDICT: KindPlanner("app.worker.batch_predict", light=True),
    JobKind.PROFILE: KindPlanner("app.worker.profile", light=True),
}


def light_kind(kind: JobKind) -> bool:
    """Whether a job of `kind` runs in a child without Keras (the executor starts one for it)."""
    planner = PLANNERS.get(kind)
    return planner is not None and planner.light


def import_planners(*, light: bool) -> None:
    """Import, ahead of any job, what a child's jobs will need: a light child the light kinds' planners, any
    other child all of them (Keras and TensorFlow), so that a job it is handed starts at once."""
    for planner in PLANNERS.values():
        if planner.light or not light:
            importlib.import_module(planner.module)


def plan_for(job: Job, settings: Settings, store: JobStore, sweeps: SweepStore) -> Plan:
    """The plan of `job`'s kind; a kind this worker does not run fails the job with a message saying so."""
    planner = PLANNERS.get(job.kind)
    if planner is None:
        raise NotImplementedError(f"this worker does not run jobs of kind {job.kind.value!r}")
    return planner.load()(job, settings, store, sweeps)
