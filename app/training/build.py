"""From a TrainingSpec to a compiled Keras model. Imported only in worker children (it imports Keras)."""

from __future__ import annotations

from typing import Any

import keras

from app.training.spec import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LossConfig,
    MaxPooling2D,
    Optimizer,
    Regularization,
    Reshape,
    TrainingSpec,
)

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


def make_optimizer(spec: Optimizer) -> keras.optimizers.Optimizer:
    kwargs: dict[str, Any] = {"learning_rate": spec.learning_rate}
    if spec.momentum is not None:
        kwargs["momentum"] = spec.momentum
    if spec.nesterov is not None:
        kwargs["nesterov"] = spec.nesterov
    return _OPTIMIZERS[spec.name](**kwargs)


def make_loss(spec: LossConfig) -> keras.losses.Loss | str:
    if spec.name in _LOSSES:
        return _LOSSES[spec.name](from_logits=spec.from_logits)
    return spec.name


def build_model(spec: TrainingSpec, input_shape: list[int]) -> keras.Model:
    """A compiled Sequential model; seeds Keras first so that a spec with a seed reproduces its weights."""
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *(make_layer(layer, spec.regularization) for layer in spec.model.layers),
        ],
        name="maas_model",
    )
    model.compile(
        optimizer=make_optimizer(spec.optimizer),
        loss=make_loss(spec.loss_config),
        metrics=[_METRIC_OBJECTS[m]() if m in _METRIC_OBJECTS else m for m in spec.metrics],
    )
    return model
