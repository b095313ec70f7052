"""Drift: a version's training-data baseline, written at publish, against the inputs it was sent in production."""
