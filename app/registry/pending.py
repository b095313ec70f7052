"""Models staged beside a job, waiting to be published (a sweep's trials until the sweep picks the best).

Publishing one copies its folder into the registry's staging area first, so that the registry's own rename keeps
the publish atomic; the registry never imports TensorFlow, and neither does this.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from app.registry.local import LocalRegistry
from app.registry.schemas import ModelVersion

PENDING_METADATA = "pending.json"


def publish_pending(registry: LocalRegistry, name: str, folder: Path, extra: dict[str, Any]) -> ModelVersion:
    """Publish the model staged in `folder` as the next version of `name`, its metadata updated with `extra`."""
    metadata = json.loads((folder / PENDING_METADATA).read_text())
    staged = registry.new_staging_dir()
    shutil.copytree(folder, staged, dirs_exist_ok=True)
    (staged / PENDING_METADATA).unlink()
    return registry.publish(name, staged, {**metadata, **extra})
