"""Spec factories shared by the HTTP and end-to-end tiers: small, valid specs that tests then vary."""

from __future__ import annotations

from typing import Any


def iris_spec(epochs: int = 5, **overrides: Any) -> dict[str, Any]:
    """A tiny 3-class MLP on `iris`."""
    return {
        "model_name": "iris-mlp",
        "dataset": {"builtin": "iris"},
        "model": {
            "layers": [
                {"type": "dense", "units": 16, "activation": "relu"},
                {"type": "dense", "units": 3, "activation": "softmax"},
            ]
        },
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": {"name": "adam", "learning_rate": 0.05},
        "fit": {"epochs": epochs, "batch_size": 16},
        "seed": 7,
        **overrides,
    }


def digits_spec(**overrides: Any) -> dict[str, Any]:
    """The classic Keras MNIST MLP from API.md, on the 8x8 `digits` set."""
    return {
        "model_name": "digits-mlp",
        "dataset": {"builtin": "digits"},
        "model": {
            "layers": [
                {"type": "dense", "units": 128, "activation": "relu"},
                {"type": "dropout", "rate": 0.2},
                {"type": "dense", "units": 64, "activation": "relu"},
                {"type": "dense", "units": 10, "activation": "softmax"},
            ]
        },
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "regularization": {"l2": 0.0001},
        "fit": {"epochs": 10, "batch_size": 32, "validation_split": 0.1},
        "seed": 42,
        **overrides,
    }
