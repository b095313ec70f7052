"""Batch predictions: a version scores a whole dataset (a job of kind `predict`) into one output file."""
