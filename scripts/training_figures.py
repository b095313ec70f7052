"""Draw docs/training.md's figures from a real run of maas' own training pipeline.

Trains the classic MLP on `digits` with `learning_rate: "auto"` and a validation split, exactly as a job would
(same spec, same pipeline), then plots the LR range test's curve and the train/validation loss curves.

    .venv/bin/pip install -e '.[docs]' && .venv/bin/python scripts/training_figures.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from app.datasets.builtin import load_builtin  # noqa: E402
from app.training.pipeline import train  # noqa: E402
from app.training.spec import TrainingSpec  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
SPEC = {
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
    "optimizer": {"name": "adam", "learning_rate": "auto"},
    "fit": {"epochs": 30, "batch_size": 32, "validation_split": 0.2},
    "seed": 42,
}


class Quiet:
    def epoch(self, *_args: Any) -> None: ...

    def lr_range(self, _curve: Any) -> None: ...

    def cross_validation(self, _cv: Any) -> None: ...


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    outcome = train(TrainingSpec.model_validate(SPEC), load_builtin("digits"), None, Quiet())
    curve = outcome.lr_range
    assert curve is not None

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    ax.plot(curve["learning_rates"], curve["losses"], color="tab:blue")
    ax.axvline(
        curve["lowest_loss_at"], color="tab:gray", linestyle=":", label=f"lowest loss at {curve['lowest_loss_at']:.3g}"
    )
    ax.axvline(curve["chosen"], color="tab:red", linestyle="--", label=f"chosen: {curve['chosen']:.3g}")
    ax.set(
        xscale="log", xlabel="learning rate", ylabel="smoothed training loss", title="LR range test (digits MLP, Adam)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "lr_range_test.png")

    history = outcome.fit.history
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="training loss")
    ax.plot(epochs, history["val_loss"], label="validation loss")
    ax.set(xlabel="epoch", ylabel="sparse categorical cross-entropy", title=f"digits MLP at lr={curve['chosen']:.3g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "loss_curves.png")
    print(f"chosen learning rate {curve['chosen']:.4g}; final {outcome.fit.final}")


if __name__ == "__main__":
    main()
