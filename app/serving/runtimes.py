"""Runtimes that call a published version: ONNX Runtime when its export was verified at publish, else one
compiled TensorFlow function around the Keras model.

Measured for the 784-128-64-10 MLP on this machine's 2 cores: `model.predict` ~115 ms per call (setup alone),
a `tf.function` with a fixed input signature ~0.5-1.5 ms, ONNX Runtime ~15-40 us at batch 1. Heavy libraries are
imported on first use, so an API process that only serves ONNX never imports TensorFlow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.native_logs import quiet_native_startup
from app.registry import ModelVersion

log = logging.getLogger("maas.serving")

Infer = Callable[[np.ndarray], np.ndarray]


def open_runtime(version_dir: Path, meta: ModelVersion) -> tuple[str, Infer]:
    """The runtime name and its inference function for one version."""
    if meta.runtime == "onnxruntime" and meta.onnx:
        try:
            return "onnxruntime", onnx_runtime(version_dir / meta.onnx)
        except Exception:  # a broken or unreadable export: Keras still serves the version
            log.exception(
                "%s v%d: ONNX Runtime could not open %s; serving with TensorFlow", meta.name, meta.version, meta.onnx
            )
    return "tensorflow", tensorflow_runtime(version_dir / meta.artifact, meta)


def onnx_runtime(path: Path) -> Infer:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # One thread per call and no spinning: calls are already batched, and the event loop needs the other core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed, fetch = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    run = session.run

    def infer(batch: np.ndarray) -> np.ndarray:
        return run(fetch, {feed: batch})[0]

    return infer


def tensorflow_runtime(path: Path, meta: ModelVersion) -> Infer:
    with quiet_native_startup():
        import keras
        import tensorflow as tf

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    signature = tf.TensorSpec([None, *meta.input_shape[1:]], tf.float32)
    compiled = tf.function(lambda x: model(x, training=False), input_signature=[signature])

    def infer(batch: np.ndarray) -> np.ndarray:
        return np.asarray(compiled(batch))

    return infer
