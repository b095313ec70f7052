"""Model registry: immutable integer-versioned Keras models with metadata and aliases. Never imports TensorFlow."""

from pathlib import Path

from app.registry.base import Registry
from app.registry.local import LocalRegistry
from app.registry.schemas import ModelDetail, ModelSummary, ModelVersion
from app.storage import local_path


def open_registry(location: str | Path, cache_dir: Path) -> Registry:
    """The registry at a local path (or file:// URL) or on remote storage through fsspec (s3://...)."""
    path = local_path(location)
    if path is not None:
        return LocalRegistry(path)
    from app.registry.remote import ObjectRegistry

    return ObjectRegistry(str(location), cache_dir / "registry")


__all__ = ["LocalRegistry", "ModelDetail", "ModelSummary", "ModelVersion", "Registry", "open_registry"]
