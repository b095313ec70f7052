"""Serving exports made at publish, beside `model.keras`: a TensorFlow SavedModel and an ONNX file.

The SavedModel is written into the version folder itself, so TensorFlow Serving can serve every version of a
model with `--model_base_path=<registry>/<name>` (it skips the non-numeric entries there). The ONNX export
(Keras' own `model.export(format="onnx")`, through tf2onnx) serves the version with ONNX Runtime, ~30x faster
per small call than the compiled TensorFlow function, but only when its outputs match Keras' on a sample of the
training data; when the export fails or disagrees, the version is served by TensorFlow. Either way the metadata
records which runtime serves it. Both tensors are named as the HTTP protocols name them.

Exports are made on the TensorFlow backend whatever the model trained on: a model trained on JAX is exported by
a short TensorFlow-backend subprocess from the `.keras` file already staged beside (Keras' JAX ONNX path needs
jax2onnx and takes no TensorFlow signature), so every version has the same exports and the same serving path.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.registry.local import ARTIFACT
from app.serving.codecs.common import INPUT_NAME

log = logging.getLogger("maas.export")

ONNX = "model.onnx"
#: ONNX Runtime serves a version only if |onnx - keras| <= TOLERANCE * (1 + |keras|) on every sampled output
#: (relative too, so that a regression output in the hundreds is not failed by float32 rounding).
TOLERANCE = 1e-5
SAMPLE_ROWS = 64


def export_for_serving(model: keras.Model, folder: Path, sample: np.ndarray) -> dict[str, Any]:
    """Write the exports into `folder`; returns the metadata keys that say where they are and what serves."""
    sample = np.ascontiguousarray(sample[:SAMPLE_ROWS], dtype=np.float32)
    if keras.backend.backend() != "tensorflow":
        return _export_on_tensorflow(folder, sample)
    signature = [tf.TensorSpec([None, *sample.shape[1:]], tf.float32, name=INPUT_NAME)]
    exports: dict[str, Any] = {"runtime": "tensorflow", "saved_model": None, "onnx": None}
    try:
        model.export(str(folder), format="tf_saved_model", input_signature=signature, verbose=False)
        exports["saved_model"] = "."
    except Exception:  # the .keras file still serves and reproduces the model
        log.warning("SavedModel export failed", exc_info=True)
    outputs = _export_onnx(model, folder / ONNX, signature, sample)
    if outputs is not None:
        got, expected = outputs
        matches = got.shape == expected.shape and np.allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)
        exports["onnx_max_abs_diff"] = float(np.max(np.abs(got - expected), initial=0.0)) if matches else None
        if matches:
            exports.update(runtime="onnxruntime", onnx=ONNX)
        else:
            log.warning("the ONNX export disagrees with Keras on a sample; serving with TensorFlow")
            (folder / ONNX).unlink(missing_ok=True)
    return exports


def _export_onnx(
    model: keras.Model, path: Path, signature: list[tf.TensorSpec], sample: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Export, then ONNX Runtime's and Keras' outputs on `sample`; None if the export failed."""
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():  # tf2onnx probes the removed `np.object` alias
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format="onnx", input_signature=signature, verbose=False)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: sample})[0]
    except Exception:
        log.warning("ONNX export failed; serving with TensorFlow", exc_info=True)
        path.unlink(missing_ok=True)
        return None
    return got, np.asarray(model(sample, training=False))


def _export_on_tensorflow(folder: Path, sample: np.ndarray) -> dict[str, Any]:
    """Export `folder`'s staged `.keras` file in a TensorFlow-backend subprocess (this process's backend is fixed)."""
    none: dict[str, Any] = {"runtime": "tensorflow", "saved_model": None, "onnx": None}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "sample.npy", sample)
        command = [sys.executable, "-m", "app.training.export", str(folder), str(Path(tmp) / "sample.npy")]
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        log.warning("exporting on TensorFlow failed; serving the .keras file:\n%s", done.stderr[-4000:])
        return none
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # python -m app.training.export FOLDER SAMPLE.npy (KERAS_BACKEND=tensorflow)
    staged = Path(sys.argv[1])
    loaded = keras.saving.load_model(staged / ARTIFACT, safe_mode=True)
    print(json.dumps(export_for_serving(loaded, staged, np.load(sys.argv[2]))))
