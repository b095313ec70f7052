"""Per-epoch checkpoints of a job, so that a job whose worker died resumes where it was, not from epoch 0.

`<data_dir>/jobs/<job_id>/checkpoints/` holds, per training phase (`fold-1` ... `fold-k`, `final`), the model as
of its last finished epoch — weights *and* optimizer state, since `model.save` writes both — and that epoch; and
`state.json`, the results of finished phases (the LR range test's pick, each finished fold's metrics) and the
seed that orders every epoch's batches. Every file is written beside its target and renamed over it, so a crash
mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import uuid
from pathlib import Path
from typing import Any

import keras

from app.durable import write_json_atomically


class Checkpoints:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / "state.json"

    @property
    def exists(self) -> bool:
        """Whether an earlier attempt left anything to resume from (a finished phase or epoch)."""
        return self.root.is_dir() and any(self.root.glob("*.json"))

    def state(self) -> dict[str, Any]:
        """Finished phases' results; created on first use with the job's shuffle seed."""
        if self.state_path.is_file():
            return json.loads(self.state_path.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        state = {"shuffle_seed": secrets.randbelow(2**31)}
        write_json_atomically(self.state_path, state)
        return state

    def remember(self, key: str, value: Any) -> None:
        write_json_atomically(self.state_path, {**self.state(), key: value})

    def save(self, phase: str, model: keras.Model, epoch: int, history: dict[str, list[Any]]) -> None:
        """The model after `epoch` (1-based) of `phase` and the history so far. The model is renamed into place
        first and the epoch file last, so the epoch file never names a model that is not there yet."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{phase}.{uuid.uuid4().hex}.keras"
        model.save(tmp)
        os.replace(tmp, self.root / f"{phase}-{epoch}.keras")
        write_json_atomically(self.root / f"{phase}.json", {"epoch": epoch, "history": history})
        for old in self.root.glob(f"{phase}-*.keras"):
            if old.name != f"{phase}-{epoch}.keras":
                old.unlink(missing_ok=True)

    def load(self, phase: str) -> tuple[keras.Model, int, dict[str, list[Any]]] | None:
        """The last checkpointed model of `phase` (compiled, optimizer state restored), its epoch and history."""
        meta = self.root / f"{phase}.json"
        if not meta.is_file():
            return None
        saved = json.loads(meta.read_text())
        model = keras.saving.load_model(self.root / f"{phase}-{saved['epoch']}.keras", safe_mode=True)
        return model, saved["epoch"], saved["history"]

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
