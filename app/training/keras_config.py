"""`keras_config` models: refuse any class not on the allow-list, then let Keras build it in safe mode.

A config names classes by string, so it could name a `Lambda` (arbitrary code), a layer that reads a file, or a
custom class the service would have to import: every `class_name` in the tree must be on `keras_classes`'
allow-list, checked before Keras sees the config, both in the API and again where the job builds it. Keras' safe
mode is a second line of defence. The API builds the model only for its shapes and size, with Keras' deferred
variables, so that a config asking for billions of parameters costs no memory. Keras is imported on first use,
so the API pays for it only when a keras_config spec arrives.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidSpec
from app.training.keras_classes import allowed

MAX_OBJECTS = 5_000  # Keras objects in one config: building it symbolically stays well under a second or two

Error = dict[str, Any]


@dataclass
class ConfigModel:
    """What validation needs from a keras_config: shapes, size and the output layer's activation."""

    input_shape: list[int | None] | None = None
    output_shape: list[int | None] | None = None
    params: int = 0
    output_activation: str = "linear"
    errors: list[Error] = field(default_factory=list)


def _objects(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every object (a dict with a `class_name`) in the config tree, with where it is."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, (*path, index))


def unsafe_classes(config: dict[str, Any]) -> list[Error]:
    """Every object in the config that is not on the allow-list (its name only: nothing of its config is echoed)."""
    errors: list[Error] = []
    for count, (path, node) in enumerate(_objects(_architecture(config)), start=1):
        if count > MAX_OBJECTS:
            return [{"loc": ["model", "keras_config"], "msg": f"the config has more than {MAX_OBJECTS} objects"}]
        name, module = node.get("class_name"), node.get("module")
        if not allowed(name, module, node.get("registered_name")):
            msg = (
                f"class {str(name)[:100]!r} (module {str(module)[:100]!r}) is not allowed: only Keras' built-in "
                "layers that neither read files nor run code are (no Lambda, lookup or vectorization layers, "
                "TFSMLayer, or custom objects)"
            )
            errors.append({"loc": ["model", "keras_config", *path], "msg": msg})
    return errors


def _architecture(config: dict[str, Any]) -> dict[str, Any]:
    """The config without `compile_config`: the spec's own loss, optimizer and metrics compile the model."""
    return {key: value for key, value in config.items() if key != "compile_config"}


def deserialize(config: dict[str, Any]) -> Any:
    """The model, with fresh weights. Checks the allow-list itself: a sweep's sampled spec, or a job queued by
    an older server, reaches the worker without having passed the API's checks."""
    errors = unsafe_classes(config)
    if errors:
        raise InvalidSpec("; ".join(e["msg"] for e in errors), errors=errors)
    return _keras_model(config)


def _keras_model(config: dict[str, Any]) -> Any:
    """Keras consumes the config as it deserializes it (Functional pops its keys): give it a copy, so that the
    spec's own config, stored with the job, stays whole."""
    import keras

    return keras.saving.deserialize_keras_object(copy.deepcopy(_architecture(config)), safe_mode=True)


@contextmanager
def _without_weights() -> Iterator[None]:
    """Variables created inside have a shape but no value (Keras' deferred initialization, as JAX tracing uses):
    a model's shapes and parameter count without allocating its weights."""
    import keras
    from keras.src.backend.common import global_state  # the thread's deferred variables, not in the public API

    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:  # forget ours, or the next scope to end in this thread would allocate them after all
        global_state.set_global_attribute("uninitialized_variables", pending)


def inspect_config(config: dict[str, Any]) -> ConfigModel:
    """Build the model without weights to learn its shapes and size, or report why it cannot be built."""
    errors = unsafe_classes(config)
    if errors:
        return ConfigModel(errors=errors)
    try:
        with _without_weights():
            model = _keras_model(config)
            input_shape, output_shape = list(model.input_shape), list(model.output_shape)
            params = int(model.count_params())
    except Exception as exc:  # Keras raises many types for bad configs; all mean "cannot build this"
        msg = f"Keras cannot build this config: {type(exc).__name__}: {str(exc)[:500]}"
        return ConfigModel(errors=[{"loc": ["model", "keras_config"], "msg": msg}])
    return ConfigModel(input_shape[1:], output_shape[1:], params, _output_activation(model))


def _output_activation(model: Any) -> str:
    for layer in reversed(model.layers):
        if "activation" in layer.get_config():
            return str(layer.get_config()["activation"] or "linear")
    return "linear"
