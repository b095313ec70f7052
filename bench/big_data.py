"""Training on data bigger than memory: the MLP streamed from a generated Parquet file against the same model on an
in-memory slice of it, samples/s and the training process' peak RSS of each.

The data is MNIST-shaped (784 float32 features, 10 classes, the label the brightest of the first ten pixels),
written in row groups by a bounded-memory writer, with the per-feature mean and population std a profile job
would record. Each variant trains in a fresh process through maas' own pipeline (`app.training.pipeline.train`,
the code a worker's child runs), which reports its epochs' seconds and, at the end, its own peak RSS (`VmHWM` of
/proc/self/status):

- `streamed`: a `StreamedDataset` of the file (what a job gets for a dataset over MAAS_IN_MEMORY_MB): read units
  permuted per epoch, shuffled in windows, prefetched by a background thread;
- `in memory`: the first `--slice` rows read into arrays first (what a job gets for a small dataset).

Steady samples/s = training rows / median epoch seconds of epochs 2..N (epoch 1 pays for tracing). The issue's
target: 1.3M x 784 (about 4 GB; `--target`) streamed with peak RSS < 1.5 GB at >= 0.9x the in-memory rate.

    .venv/bin/python bench/big_data.py [--rows 100000] [--epochs 3] [--batch-size 128] [--target] [--backend jax]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

FEATURES, CLASSES = 784, 10
TARGET_ROWS = 1_300_000  # 1.3M x 784 float32: about 4 GB
ROW_GROUP = 16_384
LAYERS = [
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dense", "units": 64, "activation": "relu"},
    {"type": "dense", "units": CLASSES, "activation": "softmax"},
]


def make_parquet(path: Path, rows: int, features: int) -> dict[str, Any]:
    """Write the file one row group at a time; returns the record fields a profile job would find."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    names = [f"p{i}" for i in range(features)]
    schema = pa.schema([*(pa.field(n, pa.float32()) for n in names), pa.field("label", pa.int64())])
    total, squares = np.zeros(features), np.zeros(features)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            x = rng.random((min(ROW_GROUP, rows - start), features), dtype=np.float32)
            y = x[:, : min(CLASSES, features)].argmax(axis=1).astype(np.int64)
            writer.write_table(pa.table([*(x[:, i] for i in range(features)), y], schema=schema))
            total += x.sum(axis=0, dtype=np.float64)
            squares += (x.astype(np.float64) ** 2).sum(axis=0)
    mean = total / rows
    return {
        "features": names,
        "feature_mean": mean.tolist(),
        "feature_std": np.sqrt(np.maximum(squares / rows - mean**2, 0)).tolist(),
    }


def record(path: Path, rows: int, profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "00000000-0000-4000-8000-000000000000",
        "name": "big",
        "format": "parquet",
        "status": "ready",
        "source": f"file://{path}",
        "files": [f"file://{path}"],
        "bytes": path.stat().st_size,
        "rows": rows,
        "feature_shape": [len(profile["features"])],
        "task": "classification",
        "classes": [str(i) for i in range(CLASSES)],
        "sha256": "bench",
        "created_at": datetime.now(UTC).isoformat(),
        "target": "label",
        **profile,
    }


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    """In a fresh process: train one variant through maas' pipeline, print one JSON line."""
    from app.datasets.schemas import DatasetInfo
    from app.datasets.streamed import StreamedDataset
    from app.datasets.types import Dataset
    from app.training.model_source import FreshModel
    from app.training.pipeline import Reporter, train
    from app.training.spec import TrainingSpec

    info = DatasetInfo.model_validate_json(Path(args.record).read_text())
    streamed = StreamedDataset(info)
    spec = TrainingSpec.model_validate(
        {
            "model_name": "big",
            "dataset": {"id": info.id},
            "model": {"layers": LAYERS},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "optimizer": {"name": "adam", "learning_rate": 0.001},
            "fit": {"epochs": args.epochs, "batch_size": args.batch_size},
            "seed": 0,
        }
    )
    data: Any = streamed
    if args.child == "in memory":
        x, y = streamed.read_rows(0, min(args.slice, streamed.rows))
        data = Dataset("slice", x, y, streamed.task, streamed.classes)
    epochs: list[dict[str, float]] = []

    class Timer(Reporter):
        def epoch(self, epoch: int, epochs_: int, logs: Any, fold: Any, folds: Any, took: Any = None) -> None:
            epochs.append({"seconds": took.seconds, "samples": took.samples, "accuracy": logs.get("accuracy")})

    started = time.perf_counter()
    train(spec, data, None, reporter=Timer(), source=FreshModel(spec, data.feature_shape))
    result = {"epochs": epochs, "wall_s": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(result))


def run_variant(variant: str, record_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", variant, "--record", str(record_path)]
    command += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--slice", str(args.slice)]
    env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    steady = [e["seconds"] for e in result["epochs"][1:]] or [result["epochs"][0]["seconds"]]
    result["samples_per_s"] = result["epochs"][-1]["samples"] / statistics.median(steady)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows generated (default: a few minutes on 2 cores)")
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--target", action="store_true", help=f"the issue's target: {TARGET_ROWS:,} rows (~4 GB)")
    parser.add_argument("--slice", type=int, default=100_000, help="rows of the in-memory variant")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "jax"])
    parser.add_argument("--data-dir", type=Path, help="where the Parquet file is written (default: a temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    rows = TARGET_ROWS if args.target else args.rows
    with tempfile.TemporaryDirectory(prefix="maas-big-", dir=args.data_dir) as folder:
        path = Path(folder) / "big.parquet"
        started = time.perf_counter()
        profile = make_parquet(path, rows, args.features)
        print(
            f"wrote {rows:,} x {args.features} ({path.stat().st_size / 2**20:,.0f} MiB) in "
            f"{time.perf_counter() - started:.0f} s; backend {args.backend}, batch {args.batch_size}"
        )
        record_path = Path(folder) / "dataset.json"
        record_path.write_text(json.dumps(record(path, rows, profile)))
        results = {variant: run_variant(variant, record_path, args) for variant in ("in memory", "streamed")}
    print(f"{'variant':<10} {'rows/epoch':>10} {'samples/s':>10} {'peak RSS MiB':>13} {'accuracy':>9}")
    for variant, result in results.items():
        last = result["epochs"][-1]
        print(
            f"{variant:<10} {last['samples']:>10,} {result['samples_per_s']:>10,.0f} "
            f"{result['peak_rss_mb']:>13,.0f} {last['accuracy']:>9.3f}"
        )
    ratio = results["streamed"]["samples_per_s"] / results["in memory"]["samples_per_s"]
    print(
        f"streamed / in memory samples/s: {ratio:.2f}x (target >= 0.9x); streamed peak RSS "
        f"{results['streamed']['peak_rss_mb']:,.0f} MiB (target < 1536 MiB)"
    )


if __name__ == "__main__":
    main()
