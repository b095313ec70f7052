"""The learning-rate range test behind `learning_rate: "auto"` (Smith, "Cyclical Learning Rates", 2017).

A fresh model trains one batch per step while the rate grows exponentially from `min_lr` to `max_lr`; the loss
(smoothed) falls, flattens, then blows up. The pick is a tenth of the rate at the lowest smoothed loss: the
largest rate still safely on the falling side of the curve (the fastai rule of thumb).
"""

from __future__ import annotations

import math

import numpy as np

from app.training.model_source import ModelSource
from app.training.spec import LRRangeTest

SMOOTHING = 0.98
BLOW_UP = 4.0


def lr_range_test(
    source: ModelSource, x: np.ndarray, y: np.ndarray, *, batch_size: int, config: LRRangeTest, seed: int | None
) -> dict[str, object]:
    """Scan rates on a model from `source`; return the curve (`learning_rates`, `losses`), the `chosen` rate and
    how it was chosen."""
    model = source.build(learning_rate=config.min_lr, train_x=x)
    rates = np.geomspace(config.min_lr, config.max_lr, config.steps)
    rng = np.random.default_rng(seed)
    size = min(batch_size, len(x))
    losses: list[float] = []
    average, best = 0.0, math.inf
    for step, rate in enumerate(rates, start=1):
        rows = rng.choice(len(x), size=size, replace=False)
        model.optimizer.learning_rate.assign(float(rate))
        loss = float(model.train_on_batch(x[rows], y[rows], return_dict=True)["loss"])
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        smoothed = average / (1 - SMOOTHING**step)
        if not math.isfinite(smoothed) or smoothed > BLOW_UP * best:
            break
        losses.append(smoothed)
        best = min(best, smoothed)
    lowest = int(np.argmin(losses))
    chosen = float(np.clip(rates[lowest] / 10, config.min_lr, config.max_lr))
    return {
        "learning_rates": [float(r) for r in rates[: len(losses)]],
        "losses": losses,
        "lowest_loss_at": float(rates[lowest]),
        "chosen": chosen,
        "method": "a tenth of the rate at the lowest smoothed loss",
    }
