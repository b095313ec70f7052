"""Fine-tuning's pre-flight: resolve `init_from` to one registry version and check it against the new dataset,
then give the spec that version's architecture (its output layer resized with `reset_head`), so that the usual
spec checks and the published metadata see the model that will really train. Every refusal names both sides."""

from __future__ import annotations

import copy
from typing import Any

from app.datasets.types import Dataset
from app.errors import InvalidSpec, NotFound
from app.registry import ModelVersion, Registry
from app.training.layers import Dense
from app.training.spec import InitFrom, ModelSpec, TrainingSpec

Error = dict[str, Any]


def _err(msg: str, *loc: str | int) -> Error:
    return {"loc": list(loc), "msg": msg}


def _refuse(errors: list[Error]) -> None:
    if errors:
        raise InvalidSpec("; ".join(e["msg"] for e in errors), errors=errors)


def _resolve(registry: Registry, init: InitFrom) -> ModelVersion:
    try:
        return registry.read_version(init.model, registry.resolve(init.model, init.version, init.alias))
    except NotFound as exc:
        field = "version" if init.version is not None else "alias" if init.alias is not None else "model"
        _refuse([_err(f"init_from: {exc}", "init_from", field)])
        raise


def head_units(spec: TrainingSpec, data: Dataset) -> int:
    """Units of an output layer for `data`: one per class, one for binary cross-entropy, the target's width."""
    if data.task == "regression":
        return int(data.target_shape[0]) if data.target_shape else 1
    return 1 if spec.loss_config.name == "binary_crossentropy" else data.n_classes


def _resized_head(model: ModelSpec, units: int) -> ModelSpec:
    """`model` with its last Dense layer (or last config layer) giving `units` outputs."""
    if model.layers is not None:
        layers = list(model.layers)
        index = max(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
        layers[index] = layers[index].model_copy(update={"units": units})
        return model.model_copy(update={"layers": layers})
    config = copy.deepcopy(model.keras_config or {})
    config["config"]["layers"][-1]["config"]["units"] = units
    return model.model_copy(update={"keras_config": config})


def layer_count(model: ModelSpec) -> int:
    if model.layers is not None:
        return len(model.layers)
    layers = (model.keras_config or {}).get("config", {}).get("layers", [])
    return len([layer for layer in layers if layer.get("class_name") != "InputLayer"])


def _check_data(parent: ModelVersion, init: InitFrom, data: Dataset) -> list[Error]:
    side = f"{parent.name} v{parent.version}"
    shape = list(parent.input_shape[1:])
    if shape != data.feature_shape:
        msg = f"{side} takes features of shape {shape}, but dataset {data.name!r} has {data.feature_shape}"
        return [_err(msg, "dataset")]
    if parent.task != data.task:
        return [_err(f"{side} is a {parent.task} model, but dataset {data.name!r} is a {data.task} task", "dataset")]
    if data.task == "classification" and not init.reset_head and list(parent.classes or []) != data.classes:
        msg = (
            f"{side} predicts classes {parent.classes}, but dataset {data.name!r} has classes {data.classes}; "
            "set init_from.reset_head to train a new output layer for them"
        )
        return [_err(msg, "init_from", "reset_head")]
    return []


def resolve_init_from(spec: TrainingSpec, registry: Registry, data: Dataset) -> TrainingSpec:
    """`spec` starting from one pinned version, with that version's architecture; InvalidSpec if it cannot."""
    init = spec.init_from
    if init is None:
        return spec
    parent = _resolve(registry, init)
    errors = _check_data(parent, init, data)
    architecture = ModelSpec.model_validate(parent.spec["model"])
    if init.reset_head:
        architecture = _resized_head(architecture, head_units(spec, data))
    if spec.model is not None and spec.model.model_dump(exclude_none=True) != architecture.model_dump(
        exclude_none=True
    ):
        msg = f"model differs from the architecture of {parent.name} v{parent.version}; omit model to take it"
        errors.append(_err(msg, "model"))
    if init.freeze_layers > layer_count(architecture):
        msg = f"freeze_layers {init.freeze_layers}, but {parent.name} v{parent.version} has {layer_count(architecture)}"
        errors.append(_err(msg + " layers", "init_from", "freeze_layers"))
    _refuse(errors)
    pinned = init.model_copy(update={"version": parent.version, "alias": None})
    return spec.model_copy(update={"model": architecture, "init_from": pinned})


def output_units(model: ModelSpec) -> int:
    """Units of the architecture's output layer (a Dense: the layer `reset_head` replaces)."""
    if model.layers is not None:
        return next(layer.units for layer in reversed(model.layers) if isinstance(layer, Dense))
    return int((model.keras_config or {})["config"]["layers"][-1]["config"]["units"])
