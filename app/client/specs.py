"""Specs from files (training and sweep specs alike): JSON or YAML, the same document either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def load_spec(path: str | Path) -> dict[str, Any]:
    """The spec in a `.json`, `.yaml` or `.yml` file; ValueError for another suffix or a non-object document."""
    path = Path(path)
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json":
        spec = json.loads(text)
    elif suffix in (".yaml", ".yml"):
        spec = yaml.safe_load(text)
    else:
        raise ValueError(f"{path.name}: a spec is a .json, .yaml or .yml file")
    if not isinstance(spec, dict):
        raise ValueError(f"{path.name}: a spec is an object (a mapping of fields), not {type(spec).__name__}")
    return spec
