"""Optuna glue: the study of a sweep lives in Optuna's RDB storage on the jobs' own database, so that a sweep
survives restarts and every worker shares it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from app.sweeps.spec import ChoiceParam, FloatParam, IntParam, Param, SweepSpec

if TYPE_CHECKING:
    import optuna


_storages: dict[str, optuna.storages.RDBStorage] = {}
_storages_lock = threading.Lock()


def _storage(database_url: str) -> optuna.storages.RDBStorage:
    """One Optuna storage per database per process. Creating one creates Optuna's tables if missing; when two
    processes race to do that, the loser sees 'already exists' and simply connects again."""
    import optuna
    from sqlalchemy.exc import OperationalError, ProgrammingError

    url = database_url
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    with _storages_lock:
        if url not in _storages:
            try:
                _storages[url] = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            except (OperationalError, ProgrammingError):
                _storages[url] = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        return _storages[url]


def _sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    import optuna

    if spec.sampler == "grid":
        grid = {path: p.choices for path, p in spec.search_space.items() if isinstance(p, ChoiceParam)}
        return optuna.samplers.GridSampler(grid, seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


def _pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    import optuna

    pruner = spec.pruner
    if pruner is None:
        return optuna.pruners.NopPruner()
    if pruner.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=pruner.n_startup_trials, n_warmup_steps=pruner.n_warmup_steps
        )
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=pruner.min_resource, reduction_factor=pruner.reduction_factor
    )


def open_study(spec: SweepSpec, name: str, database_url: str, create: bool = False) -> optuna.Study:
    """The sweep's study, with its sampler and pruner (Optuna keeps those in memory, not in storage)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs = {"study_name": name, "storage": _storage(database_url), "sampler": _sampler(spec), "pruner": _pruner(spec)}
    if create:
        return optuna.create_study(direction=spec.objective.direction, **kwargs)
    return optuna.load_study(**kwargs)


def suggest(trial: optuna.Trial, space: dict[str, Param]) -> dict[str, Any]:
    """Ask the trial for a value of every parameter, keyed by its spec path."""
    values: dict[str, Any] = {}
    for path, param in space.items():
        match param:
            case FloatParam():
                values[path] = trial.suggest_float(path, param.low, param.high, log=param.type == "log_uniform")
            case IntParam():
                values[path] = trial.suggest_int(path, param.low, param.high, step=param.step, log=param.log)
            case ChoiceParam():
                values[path] = trial.suggest_categorical(path, param.choices)
    return values


def trial_handle(study: optuna.Study, number: int) -> optuna.Trial:
    """The live Trial of a trial number, so that a job's child can report epochs and ask whether to stop.
    Optuna builds a Trial from its storage id only; the id is read off the stored trial (no public getter)."""
    import optuna

    frozen = study.get_trials(deepcopy=False)[number]
    return optuna.trial.Trial(study, frozen._trial_id)


def tell(study: optuna.Study, number: int, value: float | None = None, state: Any = None) -> None:
    """Record a trial's outcome. The grid sampler calls `study.stop()` when its last point is told, which Optuna
    only allows inside `optimize()`; the outcome is stored before that, so that complaint is safe to ignore."""
    try:
        study.tell(number, value, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
