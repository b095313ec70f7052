"""Where a job's models come from. Every model a job trains (each cross-validation fold, the final fit, the LR
range test's probe, a data-parallel replica's plain copy) is asked of one `ModelSource`, so that a new origin of
weights is one more source here, not a change in each training path: fresh weights, or a registry version's
(fine-tuning, `init_from`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np

from app.settings import Settings
from app.training.build import build_model, compile_model
from app.training.init_from import output_units
from app.training.spec import TrainingSpec


class ModelSource(Protocol):
    def build(self, *, learning_rate: Any, train_x: np.ndarray) -> keras.Model:
        """A compiled model, ready to train on `train_x` (whose rows may adapt its input normalization)."""
        ...


@dataclass(frozen=True)
class FreshModel:
    """The spec's architecture with fresh weights; picklable, so a data-parallel worker builds its own."""

    spec: TrainingSpec
    input_shape: list[int]

    def build(self, *, learning_rate: Any, train_x: np.ndarray) -> keras.Model:
        normalize_on = train_x if self.spec.preprocessing.normalize else None
        return build_model(self.spec, self.input_shape, learning_rate, normalize_on)


def _core(model: keras.Model) -> tuple[list[keras.layers.Layer], keras.Model]:
    """(layers before the trained stack, the stack): a normalized model keeps its adapted Normalization first."""
    if model.name == "normalized":
        return model.layers[:-1], model.layers[-1]
    return [], model


def _with_fresh_head(model: keras.Model, units: int) -> keras.Model:
    """The model with its output layer replaced by a fresh Dense of `units`, same activation."""
    old = model.layers[-1]
    head = keras.layers.Dense(units, activation=old.get_config().get("activation"), name=f"{old.name}_reset")
    return keras.Model(model.inputs, head(model.layers[-2].output), name=model.name)


@dataclass(frozen=True)
class RegistryModel:
    """A published version's architecture and weights, its first `freeze_layers` layers frozen, its output layer
    fresh with `reset_head`, compiled with a fresh optimizer. Picklable like FreshModel; every worker reads the
    version from the registry itself."""

    spec: TrainingSpec
    registry_location: str
    cache_dir: str
    head_units: int

    def build(self, *, learning_rate: Any, train_x: np.ndarray) -> keras.Model:
        from app.registry import open_registry  # the registry's storage clients load only when fine-tuning

        init = self.spec.init_from
        assert init is not None and init.version is not None
        path = open_registry(self.registry_location, self.cache_dir).artifact_path(init.model, init.version)
        before, core = _core(keras.saving.load_model(path, compile=False, safe_mode=True))
        if init.reset_head:
            core = _with_fresh_head(core, self.head_units)
        stack = [layer for layer in core.layers if not isinstance(layer, keras.layers.InputLayer)]
        for layer in stack[: init.freeze_layers]:
            layer.trainable = False
        model = (
            keras.Sequential([keras.Input(core.input_shape[1:]), *before, core], name="normalized") if before else core
        )
        return compile_model(model, self.spec, learning_rate)


def model_source(spec: TrainingSpec, input_shape: list[int], settings: Settings | None = None) -> ModelSource:
    """The source `spec` asks for: a registry version's weights with `init_from` (needs `settings`), else fresh."""
    if spec.init_from is None or settings is None:
        return FreshModel(spec, list(input_shape))
    assert spec.model is not None  # resolve_init_from gave it the version's architecture
    return RegistryModel(spec, settings.registry_location, str(settings.cache_dir), output_units(spec.model))
