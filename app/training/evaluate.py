"""A published version's loss and compiled metrics on a dataset, as Keras computes them for its spec."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from app.registry import ModelVersion
from app.training.build import compile_model
from app.training.data import encode_targets
from app.training.spec import TrainingSpec


def compiled_metrics(artifact: Path, meta: ModelVersion, x: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """`labels`: class indices into the version's classes, or regression targets."""
    spec = TrainingSpec.model_validate(meta.spec)
    model = compile_model(keras.saving.load_model(artifact, compile=False, safe_mode=True), spec, 0.001)
    y = encode_targets(labels, meta.task, spec.loss_config.name, len(meta.classes or []))
    evaluated = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {name: float(value) for name, value in evaluated.items()}
