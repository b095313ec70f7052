"""Per-epoch checkpoints of a job, so that a job whose worker died resumes where it was, not from epoch 0.

`<data_dir>/jobs/<job_id>/checkpoints/` holds, per training phase (`fold-1` ... `fold-k`, `final`):
`<phase>.keras`, the model as `model.save` writes it (architecture, compile config, optimizer), written once;
`<phase>-<epoch>.npz`, the value of every variable after that epoch — weights, optimizer slots and step, the
dropout layers' seed states — so training goes on exactly as it would have; and `<phase>.json`, that epoch and
the history so far. And `state.json`: the results of finished phases (the LR range test's pick, each finished
fold's metrics) and the seed that orders every epoch's batches.

Taking the values is a copy in memory; writing them happens on a background thread while the next epoch
trains, at most one write in flight. Every file is written beside its target and renamed over it, the epoch
file last, so a crash mid-write leaves the previous checkpoint whole.

Keras is imported only where a model is saved or loaded: a profile or batch-prediction child, which never loads
Keras, still clears its job's checkpoints with this class (app/worker/job_run.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.durable import write_json_atomically

if TYPE_CHECKING:
    import keras


def model_state(model: keras.Model) -> list[keras.Variable]:
    """Every variable training changes: the model's (with seed states) and its optimizer's."""
    optimizer = getattr(model, "optimizer", None)
    return [*model.variables, *(optimizer.variables if optimizer is not None else [])]


class Checkpoints:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / "state.json"
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

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
        """The model after `epoch` (1-based) of `phase` and the history so far; written in the background."""
        import keras

        self.flush()
        self.root.mkdir(parents=True, exist_ok=True)
        structure = self.root / f"{phase}.keras"
        if not structure.is_file():
            tmp = self.root / f".{phase}.{uuid.uuid4().hex}.keras"
            model.save(tmp)
            os.replace(tmp, structure)
        values = [np.array(keras.ops.convert_to_numpy(v), copy=True) for v in model_state(model)]
        history = {k: list(v) for k, v in history.items()}
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending = self._writer.submit(self._write, phase, epoch, values, history)

    def _write(self, phase: str, epoch: int, values: list[np.ndarray], history: dict[str, list[Any]]) -> None:
        target = self.root / f"{phase}-{epoch}.npz"
        tmp = self.root / f".{phase}.{uuid.uuid4().hex}.npz"
        with tmp.open("wb") as f:
            np.savez(f, *values)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        write_json_atomically(self.root / f"{phase}.json", {"epoch": epoch, "history": history})
        for old in self.root.glob(f"{phase}-*.npz"):
            if old.name != target.name:
                old.unlink(missing_ok=True)

    def flush(self) -> None:
        """Wait for the checkpoint being written (raises what writing it raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def load(self, phase: str) -> tuple[keras.Model, int, dict[str, list[Any]]] | None:
        """The last checkpointed model of `phase` (compiled, optimizer state restored), its epoch and history."""
        meta = self.root / f"{phase}.json"
        if not meta.is_file():
            return None
        import keras

        saved = json.loads(meta.read_text())
        model = keras.saving.load_model(self.root / f"{phase}.keras", safe_mode=True)
        with np.load(self.root / f"{phase}-{saved['epoch']}.npz") as values:
            variables = model_state(model)
            if len(values.files) != len(variables):
                raise RuntimeError(f"checkpoint of {phase} holds {len(values.files)} values for {len(variables)}")
            for i, variable in enumerate(variables):
                variable.assign(values[f"arr_{i}"])
        return model, saved["epoch"], saved["history"]

    def clear(self) -> None:
        self.flush()
        shutil.rmtree(self.root, ignore_errors=True)
