"""Where a job's result goes: a sink may watch training through the reporter, then delivers the outcome."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Protocol

from app.batch.output import Shards, output_name
from app.evaluation.schemas import Evaluation
from app.evaluation.store import EvaluationStore
from app.jobs.schemas import ModelRef
from app.registry import open_registry
from app.registry.retry import with_retries
from app.sweeps.spec import SweepSpec
from app.sweeps.store import SweepStore
from app.sweeps.study import open_study, trial_handle
from app.training.fit import EpochTime, Logs
from app.training.pipeline import Outcome, Reporter
from app.training.publish import publish_model, stage_trial_model
from app.worker.context import JobContext
from app.worker.scoring import ScoringContext

log = logging.getLogger("maas.child")


@dataclass(frozen=True)
class Delivery:
    """What the job's row records once its outcome is delivered: the version it published (if any), its final
    metrics and held-out test metrics."""

    model: ModelRef | None
    final: dict[str, float | None]
    test: dict[str, float | None] | None = None


class Sink(Protocol):
    def watch(self, job: Any, reporter: Reporter) -> Reporter:
        """The reporter the strategy should tell, which may be `reporter` itself."""
        ...

    def deliver(self, job: Any, outcome: Any) -> Delivery:
        """Put the outcome where it goes."""
        ...


def failpoint(name: str) -> None:
    """Die here, as a crash would, when MAAS_FAILPOINT names this point: lets the crash tests hit the exact
    moment they are about (e.g. between publishing a model and recording it), which a timed kill cannot."""
    if os.environ.get("MAAS_FAILPOINT") == name:
        os._exit(137)


class PublishVersion:
    """A new version of the spec's model in the registry. A transient storage error (a full disk, S3 throttling)
    is tried again with growing waits, each try staging the model afresh; StorageUnavailable past the last try
    leaves the job's checkpoints for a later attempt (app/worker/job_run.py). A try that published before it
    failed is not published twice: the registry gives a job's version back."""

    def watch(self, job: JobContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: JobContext, outcome: Outcome) -> Delivery:
        registry = open_registry(job.settings.registry_location, job.settings.cache_dir)
        version = with_retries(
            lambda: publish_model(registry, job.job_id, job.spec, job.data, outcome),
            what=f"publishing job {job.job_id}'s model {job.spec.model_name!r}",
            after_failure=registry.discard_unpublished,
        )
        failpoint("after_publish")
        return Delivery(ModelRef(name=version.name, version=version.version), outcome.fit.final, outcome.test)


class TrialPruned(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch


class TrialReporter(Reporter):
    """Tells `inner` everything; also reports the sweep's objective to Optuna each epoch of the final fit, and
    stops the trial (TrialPruned) when the pruner says so."""

    def __init__(self, inner: Reporter, trial: Any, metric: str) -> None:
        self.inner, self.trial, self.metric = inner, trial, metric

    def epoch(
        self, epoch: int, epochs: int, logs: Logs, fold: int | None, folds: int | None, took: EpochTime | None = None
    ) -> None:
        self.inner.epoch(epoch, epochs, logs, fold, folds, took)
        value = logs.get(self.metric)
        if fold is None and value is not None:
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                raise TrialPruned(epoch)

    def resumed(self, fold: int | None, epoch: int) -> None:
        self.inner.resumed(fold, epoch)

    def lr_range(self, curve: dict[str, Any]) -> None:
        self.inner.lr_range(curve)

    def cross_validation(self, cv: dict[str, Any]) -> None:
        self.inner.cross_validation(cv)


class SweepTrial:
    """A sweep's trial: its model is staged beside the job; the sweep publishes its best trial's once all ended."""

    def __init__(self, sweeps: SweepStore) -> None:
        self.sweeps = sweeps

    def watch(self, job: JobContext, reporter: Reporter) -> Reporter:
        if job.job.sweep_id is None or job.job.trial is None:
            return reporter
        row = self.sweeps.read(job.job.sweep_id)
        spec = SweepSpec.model_validate(row.spec)
        study = open_study(spec, row.study_name, job.settings.resolved_database_url)
        return TrialReporter(reporter, trial_handle(study, job.job.trial), spec.objective.metric)

    def deliver(self, job: JobContext, outcome: Outcome) -> Delivery:
        stage_trial_model(job.work_dir, job.job_id, job.spec, job.data, outcome)
        return Delivery(None, outcome.fit.final, outcome.test)


class StoreEvaluation:
    """An evaluation's result goes into the evaluation table; its loss and metrics onto the job too."""

    def watch(self, job: ScoringContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: ScoringContext, outcome: Evaluation) -> Delivery:
        EvaluationStore(job.runs.engine).save(outcome)
        return Delivery(None, dict(outcome.metrics))


class WriteOutput:
    """A batch prediction's shards joined into its one output file, `<work_dir>/output/predictions.<format>`."""

    def watch(self, job: ScoringContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: ScoringContext, outcome: Shards) -> Delivery:
        fmt = job.spec["format"]
        outcome.join(job.work_dir / "output" / output_name(fmt), fmt)
        return Delivery(None, {"rows": float(outcome.total_rows)})
