"""Training on data bigger than memory: the MLP streamed from a generated Parquet file against the same model on an
in-memory slice of it, samples/s and the training process' peak RSS of each, on one or both Keras backends.

The data is MNIST-shaped (784 float32 features, 10 classes, the label the brightest of the first ten pixels),
written in row groups by a bounded-memory writer, with the per-feature mean and population std a profile job
would record. Each variant trains in a fresh process; the maas variants go through maas' own pipeline
(`app.training.pipeline.train`, the code a worker's child runs, defaults included: `steps_per_execution` auto):

- `streamed`: a `StreamedDataset` of the file (what a job gets for a dataset over MAAS_IN_MEMORY_MB): read units
  permuted per epoch, rows shuffled through a buffer, prefetched by a background thread, each unit decoded once
  into the job's row cache (a file beside the data, removed at the end) and read back from it after;
- `uncached`: the same with MAAS_STREAM_CACHE=false: every epoch decodes the file;
- `in memory`: the first `--slice` rows read into arrays first (what a job gets for a small dataset);
- `bare`: `model.fit(x, y, batch_size=N, shuffle=True)` on that slice, with the same model and the same steps per
  execution: what the in-memory variant should match.

Every process reports its epochs' seconds, its resident set once Keras and maas are imported (before any data) and
its peak (`VmHWM` of /proc/self/status) at the end. Variants and backends are interleaved round by round, so a
machine whose load drifts treats them alike. Steady samples/s = training rows / median epoch seconds of epochs
2..N over all rounds (epoch 1 pays for tracing and compiling); the in-memory variants run `--slice-epochs`, as
each of theirs is a fraction of a streamed one. The issue's target: 1.3M x 784 (about 4 GB;
`--target`) streamed with peak RSS < 1.5 GB at >= 0.9x the in-memory rate.

    .venv/bin/python bench/big_data.py [--rows 200000] [--epochs 3] [--slice-epochs 10] [--rounds 1] [--target]
        [--backends auto|tensorflow|jax ...] [--variants bare "in memory" streamed uncached] [--data-dir DIR]
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
from contextlib import ExitStack
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
VARIANTS = ("bare", "in memory", "streamed", "uncached")
STREAMED_VARIANTS = ("streamed", "uncached")


def make_parquet(path: Path, rows: int, features: int, *, dictionary: bool = False) -> dict[str, Any]:
    """Write the file one row group at a time; returns the record fields a profile job would find.

    The float features are written plain unless `dictionary`: random floats never repeat, so pyarrow's default
    dictionary encoding stores each value plus an index (the 1.3M-row file: 5.6 GB instead of 4.1 GB) and makes
    every read a gather, the worst case for a reader; the label is dictionary-encoded either way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    names = [f"p{i}" for i in range(features)]
    schema = pa.schema([*(pa.field(n, pa.float32()) for n in names), pa.field("label", pa.int64())])
    total, squares = np.zeros(features), np.zeros(features)
    with pq.ParquetWriter(path, schema, use_dictionary=True if dictionary else ["label"]) as writer:
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


def dataset_record(folder: Path, rows: int, features: int, *, dictionary: bool = False) -> Path:
    """The generated file's record in `folder`, written once per (rows, features) and reused by later runs."""
    path = folder / f"big-{rows}x{features}{'-dictionary' if dictionary else ''}.parquet"
    record_path = path.with_suffix(".json")
    if not record_path.exists():
        started = time.perf_counter()
        profile = make_parquet(path, rows, features, dictionary=dictionary)
        record_path.write_text(json.dumps(record(path, rows, profile)))
        print(
            f"wrote {rows:,} x {features} ({path.stat().st_size / 2**20:,.0f} MiB) in "
            f"{time.perf_counter() - started:.0f} s"
        )
    return record_path


def memory_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def training_spec(info: Any, args: argparse.Namespace) -> Any:
    from app.training.spec import TrainingSpec

    return TrainingSpec.model_validate(
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


def child(args: argparse.Namespace) -> None:
    """In a fresh process: train one variant, print one JSON line."""
    from app.heap import keep_freed_memory

    if args.child != "bare":
        keep_freed_memory()  # first, as a worker's job child does (app/worker/child.py)
    import keras

    from app.datasets.schemas import DatasetInfo
    from app.datasets.streamed import StreamedDataset
    from app.datasets.types import Dataset
    from app.training.fit import steps_per_execution
    from app.training.model_source import FreshModel
    from app.training.pipeline import Reporter, train

    imported_mib = memory_mib("VmRSS")
    info = DatasetInfo.model_validate_json(Path(args.record).read_text())
    streamed = StreamedDataset(info)
    spec = training_spec(info, args)
    epochs: list[dict[str, float]] = []
    data: Any = streamed
    if args.child not in STREAMED_VARIANTS:
        x, y = streamed.read_rows(0, min(args.slice, streamed.rows))
        data = Dataset("slice", x, y, streamed.task, streamed.classes)
    source = FreshModel(spec, data.feature_shape)
    started = time.perf_counter()
    if args.child == "bare":
        model = source.build(learning_rate=0.001, train_x=data.x)
        model.steps_per_execution = steps_per_execution(spec, model, len(data.x))

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.began = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                took = time.perf_counter() - self.began
                epochs.append({"seconds": took, "samples": len(data.x), "accuracy": (logs or {}).get("accuracy")})

        model.fit(
            data.x,
            data.y,
            batch_size=args.batch_size,
            epochs=args.epochs,
            shuffle=True,
            verbose=0,
            callbacks=[EpochTimer()],
        )
        spe = model.steps_per_execution
    else:

        class Timer(Reporter):
            def epoch(self, epoch: int, epochs_: int, logs: Any, fold: Any, folds: Any, took: Any = None) -> None:
                epochs.append({"seconds": took.seconds, "samples": took.samples, "accuracy": logs.get("accuracy")})

        cache = Path(args.record).parent / f"row-cache-{os.getpid()}" if args.child == "streamed" else None
        outcome = train(spec, data, None, reporter=Timer(), source=source, row_cache_dir=cache)
        spe = outcome.fit.model.steps_per_execution
    result = {
        "epochs": epochs,
        "wall_s": time.perf_counter() - started,
        "imported_mib": imported_mib,
        "peak_rss_mb": memory_mib("VmHWM"),
        "backend": keras.backend.backend(),
        "steps_per_execution": spe,
    }
    print(json.dumps(result))


def run_variant(variant: str, backend: str, record_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", variant, "--record", str(record_path)]
    epochs = args.epochs if variant in STREAMED_VARIANTS else args.slice_epochs
    command += ["--epochs", str(epochs), "--batch-size", str(args.batch_size), "--slice", str(args.slice)]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{variant} ({backend}) failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend, result
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant's rounds pooled: steady samples/s, the highest peak, the last accuracy."""
    steady = [e["seconds"] for run in runs for e in run["epochs"][1:]] or [runs[0]["epochs"][0]["seconds"]]
    last = runs[-1]["epochs"][-1]
    return {
        "samples": last["samples"],
        "samples_per_s": last["samples"] / statistics.median(steady),
        "imported_mib": max(run["imported_mib"] for run in runs),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "accuracy": last["accuracy"],
        "steps_per_execution": runs[-1]["steps_per_execution"],
        "epoch_s": [[round(e["seconds"], 1) for e in run["epochs"]] for run in runs],
    }


def report(results: dict[tuple[str, str], dict[str, Any]], backends: list[str]) -> None:
    print(
        f"{'backend':<10} {'variant':<10} {'rows/epoch':>10} {'spe':>4} {'samples/s':>10} "
        f"{'imported MiB':>12} {'peak RSS MiB':>12} {'accuracy':>9}"
    )
    for (backend, variant), s in results.items():
        print(
            f"{backend:<10} {variant:<10} {s['samples']:>10,} {s['steps_per_execution']:>4} "
            f"{s['samples_per_s']:>10,.0f} {s['imported_mib']:>12,.0f} {s['peak_rss_mb']:>12,.0f} "
            f"{s['accuracy']:>9.3f}"
        )
    for (backend, variant), s in results.items():
        print(f"{backend} {variant}: epoch seconds per round {s['epoch_s']}")
    for backend in backends:
        in_memory = results.get((backend, "in memory"))
        for variant in STREAMED_VARIANTS:
            streamed = results.get((backend, variant))
            if streamed and in_memory:
                ratio = streamed["samples_per_s"] / in_memory["samples_per_s"]
                print(
                    f"{backend}: {variant} / in memory samples/s {ratio:.2f}x (target >= 0.9x); {variant} peak RSS "
                    f"{streamed['peak_rss_mb']:,.0f} MiB (target < 1.5 GB = {1.5e9 / 2**20:,.0f} MiB)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows generated (default: minutes on 2 cores)")
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--target", action="store_true", help=f"the issue's target: {TARGET_ROWS:,} rows (~4 GB)")
    parser.add_argument("--slice", type=int, default=100_000, help="rows of the in-memory variants")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--slice-epochs",
        type=int,
        default=10,
        help="epochs of the in-memory variants: at the default slice each lasts about a second, and the median of "
        "a few such short epochs swung by a tenth between runs",
    )
    parser.add_argument("--rounds", type=int, default=1, help="each variant this many times, interleaved")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["auto"],
        choices=["auto", "tensorflow", "jax"],
        help="auto: maas' default (JAX where installed)",
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--data-dir", type=Path, help="keep the generated file here and reuse it (default: temp dir)")
    parser.add_argument("--dictionary", action="store_true", help="dictionary-encode the features (pyarrow's default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from app.training.backends import default_backend

    backends = list(dict.fromkeys(default_backend() if b == "auto" else b for b in args.backends))
    rows = TARGET_ROWS if args.target else args.rows
    with ExitStack() as stack:
        folder = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maas-big-")))
        record_path = dataset_record(folder, rows, args.features, dictionary=args.dictionary)
        print(
            f"{rows:,} rows; backends {backends}, batch {args.batch_size}, {args.epochs} epochs "
            f"({args.slice_epochs} in memory) x {args.rounds} rounds; "
            f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
            flush=True,
        )
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _round in range(args.rounds):
            for backend in backends:
                for variant in args.variants:
                    runs.setdefault((backend, variant), []).append(run_variant(variant, backend, record_path, args))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    report({key: summary(value) for key, value in runs.items()}, backends)


if __name__ == "__main__":
    main()
