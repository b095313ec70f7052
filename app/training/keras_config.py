"""`keras_config` models: refuse anything but Keras' own classes, then let Keras build it in safe mode.

A config names classes by string, so it could name a `Lambda` (arbitrary code) or a custom class that the
service would have to import. Every `class_name` in the tree must come from a `keras.*` module, with no
registered custom name, and must not be `Lambda` or `TFSMLayer`; Keras' safe mode is a second line of defence.
The API builds the model only for its shapes and size, with Keras' deferred variables, so that a config asking
for billions of parameters costs no memory. Keras is imported on first use, so the API pays for it only when a
keras_config spec arrives.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

FORBIDDEN = {"Lambda", "TFSMLayer"}

Error = dict[str, Any]


@dataclass
class ConfigModel:
    """What validation needs from a keras_config: shapes, size and the output layer's activation."""

    input_shape: list[int | None] | None = None
    output_shape: list[int | None] | None = None
    params: int = 0
    output_activation: str = "linear"
    errors: list[Error] = field(default_factory=list)


def unsafe_classes(node: Any, path: tuple[str | int, ...] = ()) -> list[Error]:
    """Every object in the config tree that is not one of Keras' own, safe classes."""
    errors: list[Error] = []
    if isinstance(node, dict):
        if "class_name" in node:
            name, module = node.get("class_name"), str(node.get("module") or "keras")
            if name in FORBIDDEN or not module.startswith("keras") or node.get("registered_name") not in (None, name):
                errors.append(
                    {
                        "loc": ["model", "keras_config", *path],
                        "msg": f"class {name!r} (module {module!r}) is not allowed: only Keras' built-in layers "
                        "are, never Lambda or custom objects",
                    }
                )
        for key, value in node.items():
            errors += unsafe_classes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            errors += unsafe_classes(value, (*path, index))
    return errors


def deserialize(config: dict[str, Any]) -> Any:
    """The model, with fresh weights."""
    return _keras_model(config)


def _keras_model(config: dict[str, Any]) -> Any:
    """Keras consumes the config as it deserializes it (Functional pops its keys): give it a copy, so that the
    spec's own config, stored with the job, stays whole."""
    import keras

    return keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)


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
