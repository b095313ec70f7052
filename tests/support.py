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


def mnist_shaped_inline(rows: int = 60, seed: int = 0) -> dict[str, Any]:
    """Inline 28x28 'images' with 10 balanced classes: the shape of MNIST, small enough for a request body."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % 10
    images = rng.random((rows, 28, 28)).round(2) * 0.5
    images[np.arange(rows), labels, :] += 0.5  # a learnable signal: row `label` of each image is bright
    return {"inline": {"x": images.tolist(), "y": labels.tolist()}}


def seed_article_snippet(dataset: dict[str, Any]) -> dict[str, Any]:
    """The seed article's snippet, mistakes and all: Dense(128, relu, input_shape=(100,)), Dense(64, relu),
    Dense(1, sigmoid), BinaryCrossentropy(from_logits=True), Adam(0.001) on 10-class MNIST-shaped images."""
    return {
        "model_name": "seed-snippet",
        "dataset": dataset,
        "model": {
            "input_shape": [100],
            "layers": [
                {"type": "dense", "units": 128, "activation": "relu"},
                {"type": "dense", "units": 64, "activation": "relu"},
                {"type": "dense", "units": 1, "activation": "sigmoid"},
            ],
        },
        "loss": {"name": "binary_crossentropy", "from_logits": True},
        "metrics": ["accuracy"],
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "fit": {"epochs": 3, "batch_size": 16},
        "seed": 1,
    }


def seed_article_fixed(dataset: dict[str, Any]) -> dict[str, Any]:
    """The same network with each mistake fixed: the data's input shape, a flatten, 10 softmax units,
    sparse categorical cross-entropy on probabilities."""
    spec = seed_article_snippet(dataset)
    spec["model"] = {
        "input_shape": [28, 28],
        "layers": [
            {"type": "flatten"},
            {"type": "dense", "units": 128, "activation": "relu"},
            {"type": "dense", "units": 64, "activation": "relu"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ],
    }
    spec["loss"] = "sparse_categorical_crossentropy"
    return spec
