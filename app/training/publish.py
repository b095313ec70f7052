"""Publish a trained model into the registry with everything needed to call and to reproduce it."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.datasets.types import Dataset
from app.monitoring.baseline import compute_baseline, write_baseline
from app.registry import ModelVersion, Registry
from app.registry.local import ARTIFACT
from app.registry.pending import PENDING_METADATA
from app.training.export import export_for_serving
from app.training.pipeline import Outcome
from app.training.spec import TrainingSpec


def _jax_version() -> str:
    import jax

    return jax.__version__


def framework_versions() -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        **({"jax": _jax_version()} if keras.backend.backend() == "jax" else {}),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _parent(spec: TrainingSpec) -> dict[str, Any] | None:
    """The version a fine-tuned model started from (its lineage), pinned at submission."""
    init = spec.init_from
    return {"name": init.model, "version": init.version} if init is not None else None


def stage_model(staged: Path, job_id: str, spec: TrainingSpec, data: Dataset, outcome: Outcome) -> dict[str, Any]:
    """Write the model and its serving exports into `staged`; return the metadata a version will carry."""
    result = outcome.fit
    result.model.save(staged / ARTIFACT)
    metadata = {
        "job_id": job_id,
        "metrics": result.final,
        "history": result.history,
        "test_metrics": outcome.test,
        "cv_metrics": outcome.cv,
        "learning_rate": getattr(outcome.learning_rate, "model_dump", lambda: outcome.learning_rate)(),
        "input_shape": [None, *data.feature_shape],
        "output_shape": [None, *(int(d) for d in result.model.output_shape[1:])],
        "input_dtype": "float32",
        "output_dtype": "float32",
        "task": data.task,
        "classes": data.classes,
        "spec": spec.model_dump(mode="json", exclude_none=True),
        "dataset": data.describe(),
        "framework": framework_versions(),
        "seed": spec.seed,
        "backend": keras.backend.backend(),
        "precision": spec.precision,
        "parent": _parent(spec),
    }
    metadata.update(outcome.metadata)
    metadata.update(export_for_serving(result.model, staged, data.x))  # SavedModel + verified ONNX, runtime
    baseline = compute_baseline(
        x=data.x,
        predict=lambda x: result.model.predict(x, verbose=0),
        task=data.task,
        n_classes=data.n_classes,
        dataset_sha256=str(metadata["dataset"]["sha256"]),
        rows=data.rows,
    )
    write_baseline(staged, baseline)  # what drift is measured against
    return metadata


def publish_model(registry: Registry, job_id: str, spec: TrainingSpec, data: Dataset, outcome: Outcome) -> ModelVersion:
    staged = registry.new_staging_dir()
    return registry.publish(spec.model_name, staged, stage_model(staged, job_id, spec, data, outcome))


def stage_trial_model(work_dir: Path, job_id: str, spec: TrainingSpec, data: Dataset, outcome: Outcome) -> None:
    """A sweep trial keeps its model beside the job (`<work_dir>/model`) until the sweep publishes the best."""
    staged = work_dir / "model"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    metadata = stage_model(staged, job_id, spec, data, outcome)
    (staged / PENDING_METADATA).write_text(json.dumps(metadata, default=str))
