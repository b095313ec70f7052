"""Model registry: immutable integer-versioned Keras models with metadata and aliases. Never imports TensorFlow."""

from app.registry.local import LocalRegistry
from app.registry.models import ModelDetail, ModelSummary, ModelVersion

__all__ = ["LocalRegistry", "ModelDetail", "ModelSummary", "ModelVersion"]
