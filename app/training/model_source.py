"""Where a job's models come from. Every model a job trains (each cross-validation fold, the final fit, the LR
range test's probe, a data-parallel replica's plain copy) is asked of one `ModelSource`, so that a new origin of
weights (fine-tuning a registry version, say) is one more source here, not a change in each training path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np

from app.training.build import build_model
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


def model_source(spec: TrainingSpec, input_shape: list[int]) -> ModelSource:
    """The source `spec` asks for: today always fresh weights."""
    return FreshModel(spec, list(input_shape))
