"""A sweep's search space, checked before anything is queued: every path and every corner of every range must
give a training spec that fits the data, and the objective must be a metric the trials report."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from app.datasets.loading import open_dataset
from app.datasets.service import check_ready
from app.datasets.types import Dataset
from app.errors import InvalidSpec
from app.registry import open_registry
from app.settings import Settings
from app.sweeps.paths import with_value
from app.sweeps.spec import ChoiceParam, FloatParam, IntParam, Param, SweepSpec
from app.training.init_from import resolve_init_from
from app.training.shapes import infer_stack
from app.training.spec import TrainingSpec
from app.training.validate import check_executor, validate_spec

Error = dict[str, Any]
SCALARS = (str, int, float, bool, type(None))


def _corners(param: Param) -> list[Any]:
    match param:
        case FloatParam() | IntParam():
            return [param.low, param.high]
        case ChoiceParam():
            return list(param.choices)
    raise AssertionError(param)


def trial_errors(raw: dict[str, Any], settings: Settings) -> list[Error]:
    """Every problem of one sampled trial's spec, as the API would find it for `POST /train`."""
    return _check_spec(raw, [], settings)


def _checked(raw: dict[str, Any], settings: Settings) -> TrainingSpec:
    """`raw` as a training spec that fits its data, its `init_from` (if any) resolved to one version and that
    version's architecture; ValidationError or InvalidSpec naming what does not fit."""
    spec = TrainingSpec.model_validate(raw)
    check_ready(spec.dataset, spec.fit.validation_data, datasets_location=settings.datasets_location)
    data = open_dataset(spec.dataset, settings.datasets_location)
    if spec.init_from is not None:
        spec = resolve_init_from(spec, open_registry(settings.registry_location, settings.cache_dir), data)
    validation = spec.fit.validation_data and open_dataset(spec.fit.validation_data, settings.datasets_location)
    validate_spec(spec, data, settings.max_params, validation)
    check_executor(spec, settings.executor)
    return spec


def _located(exc: ValidationError | InvalidSpec, loc: list[str | int], inner: bool) -> list[Error]:
    """`exc`'s problems, located under `loc` (plus the field inside it when `inner`)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else exc.errors
    return [{"loc": [*loc, *(e["loc"] if inner else [])], "msg": e["msg"]} for e in errors]


def _check_spec(raw: dict[str, Any], loc: list[str | int], settings: Settings, inner: bool = True) -> list[Error]:
    """Problems of one candidate training spec, located under `loc` (plus the field inside it when `inner`)."""
    try:
        _checked(raw, settings)
    except (ValidationError, InvalidSpec) as exc:
        return _located(exc, loc, inner)
    return []


def _pinned(raw: dict[str, Any], checked: TrainingSpec) -> dict[str, Any]:
    """`raw` with its `init_from` pinned to the version `_checked` resolved it to, and that version's architecture
    as `model`: every trial then starts from the same version, wherever an alias points later, and is checked
    and trained as a plain spec with a model."""
    if checked.init_from is None:
        return raw
    assert checked.model is not None
    model = checked.model.model_dump(mode="json", exclude_none=True)
    return {**raw, "model": model, "init_from": checked.init_from.model_dump(mode="json", exclude_none=True)}


def _field(path: str) -> str:
    """The top-level spec field a search-space path sets."""
    return path.split(".", 1)[0].split("[", 1)[0]


def _architecture_errors(spec: SweepSpec, base: dict[str, Any]) -> list[Error]:
    """A fine-tuning sweep's architecture is its init_from version's: a search over model fields cannot apply."""
    init = base["init_from"]
    side = f"{init['model']} v{init['version']}"
    msg = f"base.init_from trains the architecture of {side}, so a trial cannot change model fields; "
    msg += "search over optimizer, fit, regularization or init_from.freeze_layers instead"
    return [{"loc": ["search_space", p], "msg": f"{p}: {msg}"} for p in spec.search_space if _field(p) == "model"]


def _param_count(raw: dict[str, Any], data: Dataset) -> int:
    """The model's parameter count on `data` (0 when the spec does not build; the corner checks name that)."""
    try:
        spec = TrainingSpec.model_validate(raw)
    except ValidationError:
        return 0
    if spec.model.keras_config is not None:
        from app.training.keras_config import inspect_config

        return inspect_config(spec.model.keras_config).params
    return infer_stack(spec.model.layers or [], data.feature_shape).params


def _joint_worst(spec: SweepSpec, base_raw: dict[str, Any], settings: Settings) -> list[Error]:
    """Each parameter at the corner that grows the model most, all at once: ranges that fit alone may not together."""
    data = open_dataset(TrainingSpec.model_validate(base_raw).dataset, settings.datasets_location)
    base_params, joint, grown = _param_count(base_raw, data), base_raw, []
    for path, param in spec.search_space.items():
        counts = {_param_count(with_value(base_raw, path, v), data): v for v in _corners(param)}
        if max(counts) > base_params:
            joint = with_value(joint, path, counts[max(counts)])
            grown.append(f"{path} = {counts[max(counts)]!r}")
    params = _param_count(joint, data)
    if params <= settings.max_params:
        return []
    msg = f"with {', '.join(grown)} together the model has {params} parameters, more than the limit of "
    return [{"loc": ["search_space"], "msg": msg + str(settings.max_params)}]


def _reported_metrics(base: TrainingSpec) -> list[str]:
    names = ["loss", *base.metrics]
    has_validation = base.fit.validation_split > 0 or base.fit.validation_data is not None
    return names + [f"val_{n}" for n in names] if has_validation else names


def check_sweep(spec: SweepSpec, settings: Settings) -> dict[str, Any]:
    """The base training spec the trials vary (a fine-tuning one pinned, see `_pinned`), if the whole sweep is
    valid; InvalidSpec naming every problem otherwise."""
    base_raw = {**spec.base, "model_name": spec.model_name}
    try:
        checked = _checked(base_raw, settings)
    except (ValidationError, InvalidSpec) as exc:
        problems = _located(exc, ["base"], inner=True)
        raise InvalidSpec("; ".join(e["msg"] for e in problems), errors=problems) from None
    base_raw = _pinned(base_raw, checked)
    errors = _architecture_errors(spec, base_raw) if "init_from" in base_raw else []
    refused = {e["loc"][1] for e in errors}
    for path, param in spec.search_space.items():
        loc: list[str | int] = ["search_space", path]
        if isinstance(param, ChoiceParam) and not all(isinstance(c, SCALARS) for c in param.choices):
            errors.append({"loc": loc, "msg": "choices must be strings, numbers, booleans or null"})
            continue
        if path in refused:
            continue
        for value in _corners(param):
            try:
                candidate = with_value(base_raw, path, value)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                errors.append({"loc": loc, "msg": str(exc)})
                break
            found = _check_spec(candidate, loc, settings, inner=False)
            errors += [{**e, "msg": f"with {path} = {value!r}: {e['msg']}"} for e in found]
            if found:
                break
    if not errors:
        errors += _joint_worst(spec, base_raw, settings)
    base = TrainingSpec.model_validate(base_raw)
    reported = _reported_metrics(base)
    if spec.objective.metric not in reported:
        errors.append(
            {
                "loc": ["objective", "metric"],
                "msg": f"the trials do not report {spec.objective.metric!r}; expected one of {reported}",
            }
        )
    if spec.sampler == "grid":
        size = math.prod(len(p.choices) for p in spec.search_space.values() if isinstance(p, ChoiceParam))
        if spec.trials > size:
            errors.append({"loc": ["trials"], "msg": f"the grid has {size} points; trials must be at most that"})
    if errors:
        raise InvalidSpec("; ".join(e["msg"] for e in errors), errors=errors)
    return base_raw
