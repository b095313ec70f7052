"""Datasets: built-ins shipped with scikit-learn, inline data; each becomes numpy arrays plus label names."""

from app.datasets.loading import load_dataset
from app.datasets.types import Dataset

__all__ = ["Dataset", "load_dataset"]
