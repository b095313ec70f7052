"""Drives running sweeps from a worker's supervisor: creates trial jobs as slots allow, tells Optuna how ended
trials did, and once every trial has ended publishes the best trial's model. Any worker may drive any sweep: trial
creation and the finish are compare-and-set updates, so several workers never double them."""

from __future__ import annotations

import logging
import shutil
from typing import Any

from app.jobs.schemas import Job, JobStatus
from app.jobs.store import JobStore
from app.registry import open_registry
from app.registry.pending import publish_pending
from app.registry.retry import with_retries
from app.settings import Settings
from app.sweeps.paths import with_value
from app.sweeps.spec import SweepSpec
from app.sweeps.store import SweepRow, SweepStatus, SweepStore
from app.sweeps.study import open_study, suggest, tell
from app.sweeps.validate import trial_errors

log = logging.getLogger("maas.sweeps")


class SweepDriver:
    def __init__(self, settings: Settings, store: JobStore, sweeps: SweepStore) -> None:
        self.settings, self.store, self.sweeps = settings, store, sweeps
        self._studies: dict[str, Any] = {}

    def advance_all(self) -> None:
        for row in self.sweeps.read_all(SweepStatus.RUNNING, limit=100):
            try:
                self.advance(row)
            except Exception:  # one broken sweep must not stop the others, nor the worker
                log.exception("sweep %s could not advance", row.id)

    def _study(self, row: SweepRow, spec: SweepSpec) -> Any:
        if row.id not in self._studies:
            self._studies[row.id] = open_study(spec, row.study_name, self.settings.resolved_database_url)
        return self._studies[row.id]

    def advance(self, row: SweepRow) -> None:
        spec = SweepSpec.model_validate(row.spec)
        study = self._study(row, spec)
        jobs = self.store.read_jobs(sweep_id=row.id, limit=1000)
        self._tell_ended(study, spec, jobs)
        active = sum(not job.status.terminal for job in jobs)
        created = row.trials_created
        while created < spec.trials and active < spec.parallelism:
            if not self.sweeps.count_created(row.id, created):
                return  # another worker created this trial; look again next round
            queued = self._create_trial(row, spec, study)
            created, active = created + 1, active + queued
        if created >= spec.trials and active == 0:
            self._finish(row, spec, study, jobs)

    def _create_trial(self, row: SweepRow, spec: SweepSpec, study: Any) -> bool:
        """Queue the next sampled trial as a job, unless its spec fails the API's checks (False then)."""
        from optuna.trial import TrialState

        trial = study.ask()
        training = {**spec.base, "model_name": spec.model_name}
        for path, value in suggest(trial, spec.search_space).items():
            training = with_value(training, path, value)
        errors = trial_errors(training, self.settings)
        if errors:  # never queued: the reason stays on the trial, which the study records as failed
            reason = "; ".join(e["msg"] for e in errors)
            trial.set_user_attr("error", reason)
            tell(study, trial.number, state=TrialState.FAIL)
            log.warning("sweep %s: trial %d not queued: %s", row.id, trial.number, reason)
            return False
        epochs = int(training.get("fit", {}).get("epochs", 10))
        retries = training.get("max_retries", self.settings.max_retries)
        self.store.create_job(
            spec.model_name, training, epochs=epochs, max_retries=retries, sweep_id=row.id, trial=trial.number
        )
        log.info("sweep %s: trial %d queued with %s", row.id, trial.number, trial.params)
        return True

    def _tell_ended(self, study: Any, spec: SweepSpec, jobs: list[Job]) -> None:
        """Report each ended trial job's outcome to Optuna (once: trials already finished are skipped)."""
        from optuna.trial import TrialState

        running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        for job in jobs:
            if job.trial not in running or not job.status.terminal:
                continue
            value = job.metrics.final.get(spec.objective.metric)
            if job.status == JobStatus.SUCCEEDED and value is not None:
                tell(study, job.trial, value)
            elif job.status == JobStatus.PRUNED:
                tell(study, job.trial, state=TrialState.PRUNED)
            else:
                tell(study, job.trial, state=TrialState.FAIL)

    def _finish(self, row: SweepRow, spec: SweepSpec, study: Any, jobs: list[Job]) -> None:
        from optuna.trial import TrialState

        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            error = {"type": "NoTrialCompleted", "message": "every trial failed, was pruned or was cancelled"}
            self.sweeps.finish(row.id, SweepStatus.FAILED, error=error)
            return
        best = study.best_trial
        job = next(j for j in jobs if j.trial == best.number)
        registry = open_registry(self.settings.registry_location, self.settings.cache_dir)
        extra = {"sweep_id": row.id, "trial": best.number, "params": best.params}
        version = with_retries(  # still failing: raised, the sweep stays running and its next drive tries again
            lambda: publish_pending(registry, spec.model_name, self.settings.jobs_dir / job.id / "model", extra),
            what=f"publishing sweep {row.id}'s best trial as {spec.model_name!r}",
            backoff_s=self.settings.publish_backoff_s,
            after_failure=registry.discard_unpublished,
        )
        if spec.alias:
            registry.set_alias(spec.model_name, spec.alias, version.version)
        if self.sweeps.finish(row.id, SweepStatus.SUCCEEDED, model_version=version.version):
            log.info(
                "sweep %s: trial %d is best (%s = %s); published v%d",
                row.id,
                best.number,
                spec.objective.metric,
                best.value,
                version.version,
            )
        for trial_job in jobs:  # the trials' staged models are no longer needed once the sweep is done
            shutil.rmtree(self.settings.jobs_dir / trial_job.id / "model", ignore_errors=True)
