"""Where a training job's result goes: a sink may watch training through the reporter, then delivers the
outcome. The scoring kinds' sinks live with their strategies (app/worker/evaluate.py, batch_predict.py), and
profiling's in app/worker/profile.py, so that their children need not import the training modules."""

from __future__ import annotations

import logging
from typing import Any, Protocol

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
from app.worker.outcomes import Delivery, TrialPruned, failpoint

log = logging.getLogger("maas.child")


class Sink(Protocol):
    def watch(self, job: Any, reporter: Reporter) -> Reporter:
        """The reporter the strategy should tell, which may be `reporter` itself."""
        ...

    def deliver(self, job: Any, outcome: Any) -> Delivery:
        """Put the outcome where it goes."""
        ...


class PublishVersion:
    """A new version of the spec's model in the registry. A transient storage error (a full disk, S3 throttling)
    is tried again with growing waits (MAAS_PUBLISH_BACKOFF_S, doubled each time), each try staging the model
    afresh; StorageUnavailable past the last try leaves the job's checkpoints for a later attempt
    (app/worker/job_run.py). A try that published before it failed is not published twice: the registry gives a
    job's version back."""

    def watch(self, job: JobContext, reporter: Reporter) -> Reporter:
        return reporter

    def deliver(self, job: JobContext, outcome: Outcome) -> Delivery:
        registry = open_registry(job.settings.registry_location, job.settings.cache_dir)
        version = with_retries(
            lambda: publish_model(registry, job.job_id, job.spec, job.data, outcome),
            what=f"publishing job {job.job_id}'s model {job.spec.model_name!r}",
            backoff_s=job.settings.publish_backoff_s,
            after_failure=registry.discard_unpublished,
        )
        failpoint("after_publish")
        return Delivery(ModelRef(name=version.name, version=version.version), outcome.fit.final, outcome.test)


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
