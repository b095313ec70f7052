"""Sweeps: a set of training jobs whose parameters an Optuna study chooses, pruned early, the best published."""
