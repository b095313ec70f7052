"""Datasets: built-ins from scikit-learn, inline data and uploads; each becomes numpy arrays plus label names."""

from app.datasets.loading import load_dataset
from app.datasets.types import Dataset

__all__ = ["Dataset", "load_dataset"]
