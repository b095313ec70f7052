"""From a TrainingSpec to a compiled Keras model. Imported only in worker children (it imports Keras)."""

from __future__ import annotations

import random
from typing import Any

import keras
import numpy as np

from app.training.keras_config import deserialize
from app.training.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    Regularization,
    Reshape,
)
from app.training.optimizers import CosineDecay, ExponentialDecay, Optimizer, PiecewiseConstant
from app.training.spec import LossConfig, TrainingSpec

_LOSSES: dict[str, type[keras.losses.Loss]] = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
}
_OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "adagrad": keras.optimizers.Adagrad,
    "nadam": keras.optimizers.Nadam,
}
_METRIC_OBJECTS = {
    "auc": lambda: keras.metrics.AUC(name="auc"),
    "precision": lambda: keras.metrics.Precision(name="precision"),
    "recall": lambda: keras.metrics.Recall(name="recall"),
    "root_mean_squared_error": lambda: keras.metrics.RootMeanSquaredError(name="root_mean_squared_error"),
}


def _regularizer(own: Regularization | None, default: Regularization | None) -> Any:
    chosen = own or default
    if chosen is None or (chosen.l1 == 0 and chosen.l2 == 0):
        return None
    return keras.regularizers.L1L2(l1=chosen.l1, l2=chosen.l2)


def make_layer(layer: Layer, default_reg: Regularization | None) -> keras.layers.Layer:
    match layer:
        case Dense():
            return keras.layers.Dense(
                layer.units,
                activation=layer.activation,
                use_bias=layer.use_bias,
                kernel_regularizer=_regularizer(layer.regularization, default_reg),
            )
        case Dropout():
            return keras.layers.Dropout(layer.rate)
        case Flatten():
            return keras.layers.Flatten()
        case Reshape():
            return keras.layers.Reshape(tuple(layer.target_shape))
        case Conv2D():
            return keras.layers.Conv2D(
                layer.filters,
                layer.kernel_size,
                strides=layer.strides,
                padding=layer.padding,
                activation=layer.activation,
                kernel_regularizer=_regularizer(layer.regularization, default_reg),
            )
        case MaxPooling2D():
            return keras.layers.MaxPooling2D(layer.pool_size, strides=layer.strides, padding=layer.padding)
        case BatchNormalization():
            return keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon)
    raise AssertionError(f"unhandled layer {layer!r}")


def make_learning_rate(rate: float | ExponentialDecay | CosineDecay | PiecewiseConstant) -> Any:
    schedules = keras.optimizers.schedules
    match rate:
        case ExponentialDecay():
            return schedules.ExponentialDecay(
                rate.initial_learning_rate, rate.decay_steps, rate.decay_rate, staircase=rate.staircase
            )
        case CosineDecay():
            return schedules.CosineDecay(
                rate.initial_learning_rate,
                rate.decay_steps,
                alpha=rate.alpha,
                warmup_steps=rate.warmup_steps,
                warmup_target=rate.warmup_target,
            )
        case PiecewiseConstant():
            return schedules.PiecewiseConstantDecay(rate.boundaries, rate.values)
    return float(rate)


def make_optimizer(spec: Optimizer, learning_rate: Any) -> keras.optimizers.Optimizer:
    """The optimizer with `learning_rate` resolved (a number, a schedule, or the LR range test's pick)."""
    return _OPTIMIZERS[spec.name](**spec.keras_kwargs(make_learning_rate(learning_rate)))


def make_loss(spec: LossConfig) -> keras.losses.Loss | str:
    if spec.name in _LOSSES:
        return _LOSSES[spec.name](from_logits=spec.from_logits)
    return spec.name


def seed_everything(seed: int | None) -> None:
    """Same spec and seed, same weights and metrics on CPU: seed every RNG and make TF ops deterministic.

    On JAX, Keras draws every unseeded layer's and initializer's seed from Python's `random` and shuffles with
    NumPy's, so those two are all there is to seed; `keras.utils.set_random_seed` would also import TensorFlow
    (about 550 MiB) only to seed it.
    """
    if seed is None:
        return
    if keras.backend.backend() != "tensorflow":
        random.seed(seed)
        np.random.seed(seed)
        return
    keras.utils.set_random_seed(seed)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def _architecture(spec: TrainingSpec, input_shape: list[int]) -> keras.Model:
    if spec.model.keras_config is not None:
        return deserialize(spec.model.keras_config)
    layers = [make_layer(layer, spec.regularization) for layer in spec.model.layers or []]
    return keras.Sequential([keras.Input(shape=tuple(input_shape)), *layers], name="layers")


def build_model(
    spec: TrainingSpec, input_shape: list[int], learning_rate: Any, normalize_on: np.ndarray | None = None
) -> keras.Model:
    """A compiled model with fresh weights. With `normalize_on`, a Normalization layer adapted on those rows
    comes first and is saved inside the model, so that predictions take raw features."""
    model = _architecture(spec, input_shape)
    if normalize_on is not None:
        normalization = keras.layers.Normalization(axis=-1)
        normalization.adapt(normalize_on)
        model = keras.Sequential([keras.Input(shape=tuple(input_shape)), normalization, model], name="normalized")
    return compile_model(model, spec, learning_rate)


def compile_model(model: keras.Model, spec: TrainingSpec, learning_rate: Any) -> keras.Model:
    """Compile with the spec's loss and metrics and a fresh optimizer (no state carried over)."""
    model.compile(
        optimizer=make_optimizer(spec.optimizer, learning_rate),
        loss=make_loss(spec.loss_config),
        metrics=[_METRIC_OBJECTS[m]() if m in _METRIC_OBJECTS else m for m in spec.metrics],
    )
    return model
