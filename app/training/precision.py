"""Mixed precision while training, float32 everywhere else.

A mixed policy computes in bfloat16 or float16 and keeps float32 variables, so the same weights serve in
float32 afterwards: the output layer computes in float32 throughout (probabilities and the loss stay exact
enough), and the trained model is switched back to float32 before it is evaluated, published and exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Layers created inside (without a dtype of their own) compute in `precision`."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _output_layer(model: keras.Model) -> keras.layers.Layer:
    layer = model.layers[-1]
    return _output_layer(layer) if isinstance(layer, keras.Model) else layer


def _set_policy(model: keras.Model, precision: str) -> None:
    for layer in model._flatten_layers(include_self=True):
        if layer.dtype_policy.name != precision:
            layer.dtype_policy = precision


def build_in_precision(make_model: Callable[[], keras.Model], precision: str) -> keras.Model:
    """A fresh model whose layers compute in `precision` (including a keras_config's, which name float32),
    all but the output layer."""
    if precision == "float32":
        return make_model()
    with dtype_policy(precision):
        model = make_model()
    _set_policy(model, precision)
    _output_layer(model).dtype_policy = "float32"
    return model


def to_float32(model: keras.Model) -> keras.Model:
    """The same model (same float32 variables) computing in float32: what is published and served."""
    _set_policy(model, "float32")
    model.train_function = model.test_function = model.predict_function = None  # traced in the old precision
    return model
