"""Layer specs of a Sequential stack: each one a Keras built-in layer with its arguments checked."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from app.training.strict import Strict

Activation = Literal[
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "exponential",
]
Padding = Literal["valid", "same"]
IntPair = PositiveInt | tuple[PositiveInt, PositiveInt]


class Regularization(Strict):
    l1: float = Field(0.0, ge=0, description="L1 penalty on kernels.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on kernels.")


class LayerSpec(Strict):
    """What every layer takes, as in Keras: `input_shape`, read on the first layer only (the dataset gives the
    shape; when a spec says it too, as the Keras idiom `Dense(128, input_shape=(100,))` does, it must match)."""

    input_shape: list[PositiveInt] | None = Field(
        None, description="Optional, on the first layer only; when given it must match the dataset's feature shape."
    )


class Dense(LayerSpec):
    type: Literal["dense"]
    units: int = Field(ge=1, le=100_000)
    activation: Activation | None = None
    use_bias: bool = True
    regularization: Regularization | None = Field(None, description="Overrides the spec-wide regularization.")


class Dropout(LayerSpec):
    type: Literal["dropout"]
    rate: float = Field(ge=0.0, lt=1.0)


class Flatten(LayerSpec):
    type: Literal["flatten"]


class Reshape(LayerSpec):
    type: Literal["reshape"]
    target_shape: list[PositiveInt] = Field(min_length=1)


class Conv2D(LayerSpec):
    type: Literal["conv2d"]
    filters: int = Field(ge=1, le=4096)
    kernel_size: IntPair = 3
    strides: IntPair = 1
    padding: Padding = "valid"
    activation: Activation | None = None
    regularization: Regularization | None = None


class MaxPooling2D(LayerSpec):
    type: Literal["max_pooling2d"]
    pool_size: IntPair = 2
    strides: IntPair | None = None
    padding: Padding = "valid"


class BatchNormalization(LayerSpec):
    type: Literal["batch_normalization"]
    momentum: float = Field(0.99, gt=0, lt=1)
    epsilon: float = Field(1e-3, gt=0)


Layer = Annotated[
    Dense | Dropout | Flatten | Reshape | Conv2D | MaxPooling2D | BatchNormalization,
    Field(discriminator="type"),
]
