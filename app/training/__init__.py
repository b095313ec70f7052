"""Training: the spec schema, its validation against a dataset, and (in worker children) Keras build and fit."""
