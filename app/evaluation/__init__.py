"""Evaluations: a version measured on a dataset (a job of kind `evaluate`), stored for side-by-side comparison."""
