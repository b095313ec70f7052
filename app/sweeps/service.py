"""Sweeps as clients see them: submit (validated, nothing queued on error), read with trials, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.jobs.schemas import JobStatus, ModelRef
from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.spec import SweepSpec
from app.sweeps.store import SweepRow, SweepStatus, SweepStore
from app.sweeps.study import open_study, tell
from app.sweeps.validate import check_sweep


class Trial(BaseModel):
    number: int
    job_id: str | None
    job_status: JobStatus | None
    state: str
    params: dict[str, Any]
    objective: float | None
    epochs: int | None
    error: str | None = None


class Sweep(BaseModel):
    id: str
    status: SweepStatus
    model_name: str
    spec: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    trials: list[Trial]
    best: Trial | None
    importances: dict[str, float] | None
    model: ModelRef | None
    error: dict[str, str] | None


def submit_sweep(sweeps: SweepStore, spec: SweepSpec, settings: Settings) -> Sweep:
    base = check_sweep(spec, settings)
    if "init_from" in base:  # store the pinned base: the driver's trials start from that one version
        spec = spec.model_copy(update={"base": {**spec.base, "model": base["model"], "init_from": base["init_from"]}})
    sweep_id, study_name = sweeps.new_ids()
    open_study(spec, study_name, settings.resolved_database_url, create=True)
    body = spec.model_dump(mode="json", exclude_none=True)
    row = sweeps.create(sweep_id, study_name=study_name, model_name=spec.model_name, spec=body)
    return _view(row, [], None)


def read_sweep(sweeps: SweepStore, store: JobStore, sweep_id: str, settings: Settings) -> Sweep:
    row = sweeps.read(sweep_id)
    study = open_study(SweepSpec.model_validate(row.spec), row.study_name, settings.resolved_database_url)
    return _view(row, store.read_jobs(sweep_id=sweep_id, limit=1000), study)


def cancel_sweep(sweeps: SweepStore, store: JobStore, sweep_id: str, settings: Settings) -> Sweep:
    """Stop a running sweep: no new trials, and its queued and running trials are cancelled."""
    if sweeps.finish(sweep_id, SweepStatus.CANCELLED):
        for job in store.read_jobs(sweep_id=sweep_id, limit=1000):
            if not job.status.terminal:
                store.cancel(job.id)
        _fail_open_trials(sweeps.read(sweep_id), settings)
    return read_sweep(sweeps, store, sweep_id, settings)


def _fail_open_trials(row: SweepRow, settings: Settings) -> None:
    """Trials still open in the study will never end now: record them as failed, so the study agrees."""
    from optuna.trial import TrialState

    study = open_study(SweepSpec.model_validate(row.spec), row.study_name, settings.resolved_database_url)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tell(study, trial.number, state=TrialState.FAIL)


def _view(row: SweepRow, jobs: list, study: Any) -> Sweep:
    by_trial = {job.trial: job for job in jobs}
    trials = []
    for frozen in study.get_trials(deepcopy=False) if study is not None else []:
        job = by_trial.get(frozen.number)
        trials.append(
            Trial(
                number=frozen.number,
                job_id=job.id if job else None,
                job_status=job.status if job else None,
                state=frozen.state.name.lower(),
                params=frozen.params,
                objective=frozen.value,
                epochs=job.progress.epoch if job else None,
                error=frozen.user_attrs.get("error"),
            )
        )
    complete = [t for t in trials if t.state == "complete"]
    best = None
    if complete:
        best_number = study.best_trial.number
        best = next(t for t in trials if t.number == best_number)
    model = ModelRef(name=row.model_name, version=row.model_version) if row.model_version else None
    return Sweep(
        id=row.id,
        status=row.status,
        model_name=row.model_name,
        spec=row.spec,
        created_at=row.created_at,
        finished_at=row.finished_at,
        trials=trials,
        best=best,
        importances=_importances(study, len(complete)),
        model=model,
        error=row.error,
    )


def _importances(study: Any, complete: int) -> dict[str, float] | None:
    """Parameter importances (Optuna's fANOVA) once enough trials completed to estimate them."""
    if study is None or complete < 2:
        return None
    import optuna

    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # e.g. every completed trial had the same parameters
        return None
