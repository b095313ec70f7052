"""Model lifecycle targets (issue 15), against a real `maas serve` (API + 1 worker) in a temp data dir:

1. Batch prediction rows/s through the digits MLP (64-128-64-10) at batch 1024, as `POST /batch-predictions`
   runs it (from the job's start to its end: child start, dataset load, shards, output file), against ONNX Runtime
   called in this process on the same rows at batch 1024; with the predicting child's peak RSS (VmHWM, sampled).
2. Fine-tuning: v1 trained on one half of `digits`, then 3 epochs on the other half from v1 (`init_from`) and
   from scratch; each run's first-epoch validation accuracy against v1's final one.

    .venv/bin/python bench/lifecycle.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import Server  # noqa: E402  (a real `maas serve` on a free port)
from tests.support import digits_spec  # noqa: E402


def seconds(job: dict[str, Any]) -> float:
    started, finished = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


def peak_rss_mb(server: Server, job_id: str, until: threading.Event, peaks: list[int]) -> None:
    """Sample the job's child VmHWM (its peak resident set) until told to stop."""
    while not until.is_set():
        pid = (server.job(job_id).get("worker") or {}).get("pid")
        try:
            status = Path(f"/proc/{pid}/status").read_text() if pid else ""
            peaks += [int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmHWM")]
        except OSError:
            pass
        time.sleep(0.05)


def batch_prediction(server: Server, rows: int) -> dict[str, float]:
    digits = load_digits()
    x = digits.data.astype(np.float32)[np.arange(rows) % len(digits.data)]
    y = digits.target[np.arange(rows) % len(digits.data)]
    buffer = io.BytesIO()
    np.savez(buffer, x=x, y=y)
    files = {"file": ("rows.npz", buffer.getvalue(), "application/octet-stream")}
    dataset = server.http.post("/datasets", files=files, data={"name": "rows"}, timeout=600).json()
    server.wait_finished(server.train(digits_spec(fit={"epochs": 3, "batch_size": 32}))["id"], timeout=600)
    body = {"model": "digits-mlp", "dataset": {"id": dataset["id"]}, "format": "parquet", "batch_size": 1024}
    job = server.http.post("/batch-predictions", json=body).json()
    stop, peaks = threading.Event(), []
    sampler = threading.Thread(target=peak_rss_mb, args=(server, job["id"], stop, peaks))
    sampler.start()
    done = server.wait_finished(job["id"], timeout=1800)
    stop.set()
    sampler.join()
    return {"maas_rows_s": rows / seconds(done), "peak_rss_mb": max(peaks or [0]), **onnx_floor(server, x)}


def onnx_floor(server: Server, x: np.ndarray) -> dict[str, float]:
    from app.registry import open_registry
    from app.serving.runtimes import onnx_runtime

    registry = open_registry(str(server.data_dir / "registry"), server.data_dir / "cache")
    meta = registry.read_version("digits-mlp", 1)
    infer = onnx_runtime(registry.artifact_path("digits-mlp", 1).parent / (meta.onnx or "model.onnx"))
    started = time.perf_counter()
    for i in range(0, len(x), 1024):
        infer(x[i : i + 1024])
    return {"onnx_rows_s": len(x) / (time.perf_counter() - started), "runtime": meta.runtime == "onnxruntime"}


def fine_tuning(server: Server) -> dict[str, float]:
    digits = load_digits()
    half = len(digits.data) // 2
    parts = [
        {"inline": {"x": digits.data[s].tolist(), "y": digits.target[s].tolist()}}
        for s in (slice(0, half), slice(half, None))
    ]
    fit = {"epochs": 10, "batch_size": 32, "validation_split": 0.2}
    v1 = server.wait_finished(server.train(digits_spec(model_name="ft", dataset=parts[0], fit=fit))["id"], 600)
    short = {**fit, "epochs": 3}
    tuned_spec = {
        **digits_spec(model_name="ft", dataset=parts[1], fit=short),
        "init_from": {"model": "ft", "version": 1},
    }
    del tuned_spec["model"]
    tuned = server.wait_finished(server.train(tuned_spec)["id"], 600)
    scratch = server.wait_finished(
        server.train(digits_spec(model_name="scratch", dataset=parts[1], fit=short))["id"], 600
    )
    return {
        "v1_val_accuracy": v1["metrics"]["history"]["val_accuracy"][-1],
        "finetuned_first_epoch": tuned["metrics"]["history"]["val_accuracy"][0],
        "scratch_first_epoch": scratch["metrics"]["history"]["val_accuracy"][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", Path(tmp) / "server.log", MAAS_MAX_UPLOAD_MB="2048")
        server.data_dir = Path(tmp) / "data"
        try:
            batch, tuning = batch_prediction(server, args.rows), fine_tuning(server)
        finally:
            server.stop()
    ratio = batch["maas_rows_s"] / batch["onnx_rows_s"]
    print("| rows | maas batch rows/s | ONNX Runtime in-process rows/s | ratio | child peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|")
    cells = [args.rows, f"{batch['maas_rows_s']:.0f}", f"{batch['onnx_rows_s']:.0f}", f"{ratio:.2f}x"]
    print("| " + " | ".join(str(c) for c in [*cells, batch["peak_rss_mb"]]) + " |")
    print()
    print("| v1 final val accuracy | fine-tuned epoch 1 | from scratch epoch 1 |")
    print("|---:|---:|---:|")
    print(
        "| "
        + " | ".join(f"{tuning[k]:.3f}" for k in ("v1_val_accuracy", "finetuned_first_epoch", "scratch_first_epoch"))
        + " |"
    )


if __name__ == "__main__":
    main()
