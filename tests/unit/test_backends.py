"""Which backend a job gets, and how many steps per call `steps_per_execution: "auto"` picks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.training.backends import (
    AUTO_MAX_STEPS,
    auto_steps_per_execution,
    backend_of,
    default_backend,
    installed,
    resolve_backend,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_auto_is_the_configured_backend_else_jax_where_installed() -> None:
    assert resolve_backend("auto", "tensorflow") == "tensorflow"
    assert resolve_backend("auto", "jax") == "jax"
    assert resolve_backend("auto") == ("jax" if installed("jax") else "tensorflow") == default_backend()


def test_a_named_backend_is_kept_and_data_parallel_auto_is_tensorflow() -> None:
    assert resolve_backend("jax", "tensorflow") == "jax"
    assert resolve_backend("tensorflow", "jax") == "tensorflow"
    assert resolve_backend("auto", "jax", workers=2) == "tensorflow"


def test_a_stored_spec_names_its_backend_and_scoring_jobs_load_tensorflow() -> None:
    assert backend_of({"backend": "jax"}) == "jax"
    assert backend_of({}, "tensorflow") == "tensorflow"
    assert backend_of({"backend": "auto", "resources": {"workers": 4}}, "jax") == "tensorflow"
    assert backend_of({"backend": "jax"}, kind="evaluate") == "tensorflow"


def test_auto_steps_amortise_small_models_and_never_cross_an_epoch() -> None:
    mlp = 109_386  # the MNIST MLP 784-128-64-10
    small_batch = auto_steps_per_execution(params=mlp, batch_size=32, steps_per_epoch=1875)
    large_batch = auto_steps_per_execution(params=mlp, batch_size=512, steps_per_epoch=118)
    assert small_batch > large_batch > 1
    assert auto_steps_per_execution(params=mlp, batch_size=32, steps_per_epoch=10) == 10
    assert auto_steps_per_execution(params=10, batch_size=1, steps_per_epoch=10**6) == AUTO_MAX_STEPS
    assert auto_steps_per_execution(params=50_000_000, batch_size=256, steps_per_epoch=100) == 1


def last_json_line(code: str, *args: str) -> Any:
    """What `code` prints last, as JSON, run in a fresh interpreter with `args` as its sys.argv[1:]: each backend is
    set before Keras is imported, and this process may have imported Keras on another."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


_SEEDED_BUILDS = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
from app.training.build import build_model, seed_everything
from app.training.spec import TrainingSpec

layers = [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "dropout", "rate": 0.2},
          {"type": "dense", "units": 3, "activation": "softmax"}]
spec = TrainingSpec.model_validate({"model_name": "m", "dataset": {"builtin": "iris"},
                                    "loss": "sparse_categorical_crossentropy", "model": {"layers": layers}})
weights = {}
for run, seed in (("first", 7), ("again", 7), ("other", 8)):
    seed_everything(seed)
    weights[run] = [w.tolist() for w in build_model(spec, [4], 0.01).get_weights()]
print(json.dumps({"same": weights["first"] == weights["again"], "differs": weights["first"] != weights["other"],
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def test_a_seeded_jax_build_repeats_its_weights_without_importing_tensorflow() -> None:
    """A JAX job's child stays ~550 MiB lighter: seeding it must not pull TensorFlow in, and still fix the weights."""
    assert last_json_line(_SEEDED_BUILDS) == {"same": True, "differs": True, "tensorflow": False}


_TF_EPOCHS = """
import json, os
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
from app.training.batches import EpochClock, epoch_batches, epoch_order

x = np.arange(23 * 2, dtype=np.float32).reshape(23, 2)
y = np.arange(23)
clock = EpochClock(23, 5, 0, True)
batches = epoch_batches(x, y, 4, clock)
same = []
for epoch in (0, 1, 4):
    clock.on_epoch_begin(epoch)
    seen = np.concatenate([b[1].numpy() for b in batches])
    sizes = [len(b[1]) for b in batches]
    same.append(seen.tolist() == epoch_order(23, 5, epoch, True).tolist() and sizes == [4] * 5 + [3])
print(json.dumps(same))
"""


def test_tensorflow_batches_follow_the_clock_epoch_by_epoch() -> None:
    """The tf.data pipeline reads each epoch's order from the clock: epoch e's batches are the rows of
    epoch_order(seed, e), full batches then the rest, whatever epoch the job starts at."""
    assert last_json_line(_TF_EPOCHS) == [True, True, True]
