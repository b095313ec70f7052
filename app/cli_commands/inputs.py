"""Prediction inputs from files: `.json` (a list of instances, or `{"instances": [...]}`), `.csv` (one row per
instance; a header row is skipped) or `.npy` (an array whose first axis is the batch)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np


def read_instances(path: Path) -> Any:
    """The instances in `path`; ValueError naming what is wrong (the server checks the shape against the model)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _from_json(json.loads(path.read_text()))
    if suffix == ".csv":
        return _from_csv(path)
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    raise ValueError(f"{path.name}: inputs are a .json, .csv or .npy file")


def _from_json(document: Any) -> Any:
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list) or not instances:
        raise ValueError('a JSON input is a non-empty list of instances, or {"instances": [...]}')
    return instances


def _from_csv(path: Path) -> np.ndarray:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]  # a header
    if not rows:
        raise ValueError(f"{path.name} holds no rows")
    try:
        return np.array([[float(cell) for cell in row] for row in rows], dtype=np.float32)
    except ValueError as exc:
        raise ValueError(f"{path.name}: every cell must be a number ({exc})") from None


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True
