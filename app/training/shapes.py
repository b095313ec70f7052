"""Shape and parameter-count inference for a Sequential layer stack, without TensorFlow.

The API process checks specs before queueing them and must stay fast, so it walks the layers itself rather
than building a Keras model. Each problem is reported with the layer's location in the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.training.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, Reshape

Shape = list[int]


@dataclass
class StackShapes:
    """The output shape of the stack (None if a layer could not take its input) and its parameter count."""

    output: Shape | None
    params: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def _spatial(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1 if size >= window else 0


def _conv_like(shape: Shape, window: tuple[int, int], strides: tuple[int, int], padding: str) -> Shape | str:
    if len(shape) != 3:
        return (
            f"expects a 3-D input (height, width, channels) but gets shape {shape}; "
            'put a reshape layer first, e.g. {"type": "reshape", "target_shape": [8, 8, 1]}'
        )
    height, width = (_spatial(shape[i], window[i], strides[i], padding) for i in (0, 1))
    if height < 1 or width < 1:
        return f"window {list(window)} does not fit input {shape[:2]} with padding {padding!r}"
    return [height, width, shape[2]]


def _layer(layer: Layer, shape: Shape) -> tuple[Shape, int] | str:
    """Output shape and parameters of one layer, or a message saying why it cannot take `shape`."""
    match layer:
        case Dense():
            return [*shape[:-1], layer.units], shape[-1] * layer.units + (layer.units if layer.use_bias else 0)
        case Dropout():
            return shape, 0
        case Flatten():
            return [math.prod(shape)], 0
        case Reshape():
            if math.prod(layer.target_shape) != math.prod(shape):
                return (
                    f"cannot reshape {shape} ({math.prod(shape)} values) to {layer.target_shape} "
                    f"({math.prod(layer.target_shape)} values)"
                )
            return list(layer.target_shape), 0
        case Conv2D():
            out = _conv_like(shape, _pair(layer.kernel_size), _pair(layer.strides), layer.padding)
            if isinstance(out, str):
                return out
            kh, kw = _pair(layer.kernel_size)
            return [*out[:2], layer.filters], kh * kw * shape[2] * layer.filters + layer.filters
        case MaxPooling2D():
            pool = _pair(layer.pool_size)
            out = _conv_like(shape, pool, _pair(layer.strides or pool), layer.padding)
            return out if isinstance(out, str) else (out, 0)
        case BatchNormalization():
            return shape, 4 * shape[-1]
    raise AssertionError(f"unhandled layer {layer!r}")


def infer_stack(layers: list[Layer], input_shape: Shape) -> StackShapes:
    shape, params = list(input_shape), 0
    for index, layer in enumerate(layers):
        result = _layer(layer, shape)
        if isinstance(result, str):
            msg = f"layer {index} ({layer.type}) {result}"
            return StackShapes(None, params, [{"loc": ["model", "layers", index], "msg": msg}])
        shape, added = result
        params += added
    return StackShapes(shape, params)
