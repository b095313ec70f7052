"""Training throughput: a maas job against the bare `model.fit` it replaces, on each Keras backend.

The model is the MNIST MLP (784-128-64-10, Adam 1e-3, sparse categorical cross-entropy, accuracy) on a generated
60,000 x 784 float32 NPZ, uploaded once to a real `maas serve` on loopback (embedded worker, SQLite, temp dir).
Per round, for each batch size, every variant runs once, interleaved, so a busy machine hurts them alike:

- `bare <backend>`: `model.fit(x, y, batch_size=N)` with Keras defaults in a fresh process (KERAS_BACKEND set);
- `maas default`: a job with default settings (backend and steps_per_execution "auto");
- `maas <backend> spe=1`: a job pinned to a backend with `steps_per_execution: 1`, the bare fit's own setting;
- `maas tensorflow`: a job pinned to TensorFlow, other settings default.

Steady samples/s = rows / median epoch time of epochs 2..N (every round pooled); first-epoch overhead = epoch 1
minus that median (tracing, XLA compilation). A job's epoch times are its `metrics.epoch_seconds`.

Before every variant the script waits until the server's processes are quiet: after a job, the server still
starts its next warm child (importing Keras, ~10 CPU-seconds) and a job's child may still be exiting; on two cores
either would slow whichever variant runs next.

    .venv/bin/python bench/training.py [--quick] [--rounds 2] [--epochs 4] [--batches 32 128 512]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from profiling import descendants  # bench/profiling.py: this script's own directory comes first on sys.path

FEATURES, CLASSES = 784, 10
LAYERS = [
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dense", "units": 64, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
VARIANTS: dict[str, dict[str, Any]] = {
    "bare tensorflow": {"bare": "tensorflow"},
    "bare jax": {"bare": "jax"},
    "maas default": {},
    "maas tensorflow spe=1": {"backend": "tensorflow", "steps_per_execution": 1},
    "maas jax spe=1": {"backend": "jax", "steps_per_execution": 1},
    "maas tensorflow": {"backend": "tensorflow"},
}


def make_npz(path: Path, rows: int) -> None:
    """MNIST-shaped data with a learnable signal: the label is the brightest of the first ten pixels."""
    rng = np.random.default_rng(0)
    x = rng.random((rows, FEATURES), dtype=np.float32)
    np.savez(path, x=x, y=x[:, :CLASSES].argmax(axis=1).astype(np.int64))


def bare_fit(npz: Path, batch_size: int, epochs: int) -> list[float]:
    """Runs in the child process: what a notebook user writes, timed per epoch."""
    import keras

    data = np.load(npz)
    model = keras.Sequential(
        [keras.Input((FEATURES,))]
        + [keras.layers.Dense(layer["units"], activation=layer["activation"]) for layer in LAYERS]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds.append(time.perf_counter() - self.started)

    model.fit(data["x"], data["y"], batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[Timer()])
    return seconds


def run_bare(backend: str, npz: Path, batch_size: int, epochs: int) -> tuple[list[float], str]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, __file__, "--bare-run", str(npz), str(batch_size), str(epochs)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), backend


class Maas:
    """A `maas serve` on loopback with the benchmark dataset uploaded."""

    def __init__(self, data_dir: Path, npz: Path, port: int) -> None:
        env = {
            **os.environ,
            "MAAS_DATA_DIR": str(data_dir),
            "MAAS_PORT": str(port),
            "MAAS_MAX_UPLOAD_MB": "2048",
            "MAAS_LOG_LEVEL": "WARNING",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        maas = Path(sys.executable).with_name("maas")
        self.proc = subprocess.Popen([str(maas), "serve"], env=env, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        self._wait(lambda: self.http.get("/readyz").status_code == 200)
        with npz.open("rb") as f:
            response = self.http.post("/datasets", files={"file": ("bench.npz", f)}, data={"name": "bench"})
        response.raise_for_status()
        self.dataset = response.json()["id"]
        self._wait(lambda: self.http.get(f"/datasets/{self.dataset}").json().get("status", "ready") == "ready")

    @staticmethod
    def _wait(ready: Any) -> None:
        for _ in range(1200):
            try:
                if ready():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise SystemExit("maas did not become ready")

    def train(self, settings: dict[str, Any], batch_size: int, epochs: int) -> tuple[list[float], str]:
        fit = {"epochs": epochs, "batch_size": batch_size}
        if "steps_per_execution" in settings:
            fit["steps_per_execution"] = settings["steps_per_execution"]
        spec = {
            "model_name": "bench",
            "dataset": {"id": self.dataset},
            "model": {"layers": LAYERS},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "optimizer": {"name": "adam", "learning_rate": 0.001},
            "fit": fit,
            **({"backend": settings["backend"]} if "backend" in settings else {}),
        }
        response = self.http.post("/train", json=spec)
        response.raise_for_status()
        job = response.json()
        while job["status"] in ("queued", "running"):
            time.sleep(0.5)
            job = self.http.get(f"/jobs/{job['id']}").json()
        if job["status"] != "succeeded":
            raise SystemExit(f"job {job['id']} {job['status']}: {job['error']}")
        version = self.http.get(f"/models/bench/versions/{job['model']['version']}").json()
        return job["metrics"]["epoch_seconds"], version.get("backend", "?")

    def settle(self, *, quiet_share: float = 0.05, interval_s: float = 0.5, limit_s: float = 120.0) -> float:
        """Wait until the server and its children use under `quiet_share` of a core for two intervals running;
        returns the seconds waited."""
        started = time.monotonic()
        quiet, before = 0, self._cpu_seconds()
        while quiet < 2 and time.monotonic() - started < limit_s:
            time.sleep(interval_s)
            now = self._cpu_seconds()
            quiet = quiet + 1 if now - before < quiet_share * interval_s else 0
            before = now
        return time.monotonic() - started

    def _cpu_seconds(self) -> float:
        """User + system CPU seconds of the server and every live process below it (exited ones drop out, so a
        child's exit reads as quiet, which it is)."""
        ticks = 0
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, load average {load}"


def summarize(rows: int, runs: dict[tuple[int, str], list[list[float]]], backends: dict[str, str]) -> list[str]:
    steady = {key: rows / statistics.median(s for run in v for s in run[1:]) for key, v in runs.items()}
    lines = [
        "| batch | variant | backend | steady samples/s | x bare TF | x bare, same backend "
        "| first-epoch overhead (s) |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for (batch, name), value in steady.items():
        backend = backends[name]
        first = statistics.median(run[0] for run in runs[batch, name]) - rows / value
        same, bare_tf = steady.get((batch, f"bare {backend}")), steady.get((batch, "bare tensorflow"))
        x_tf = f"{value / bare_tf:.2f}" if bare_tf else "-"  # a run without the bare TensorFlow variant
        x_same = f"{value / same:.2f}" if same else "-"
        lines.append(f"| {batch} | {name} | {backend} | {value:,.0f} | {x_tf} | {x_same} | {first:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, batch 128, 3 epochs, 20,000 rows")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs, args.rows, args.batches = 1, 3, 20_000, [128]
    print(f"machine: {machine()}", flush=True)
    runs: dict[tuple[int, str], list[list[float]]] = {}
    backends: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "bench.npz"
        make_npz(npz, args.rows)
        maas = Maas(Path(tmp) / "maas", npz, args.port)
        try:
            for round_ in range(1, args.rounds + 1):
                for batch in args.batches:
                    for name in args.variants:
                        settings = VARIANTS[name]
                        waited = maas.settle()
                        if "bare" in settings:
                            seconds, backends[name] = run_bare(settings["bare"], npz, batch, args.epochs)
                        else:
                            seconds, backends[name] = maas.train(settings, batch, args.epochs)
                        runs.setdefault((batch, name), []).append(seconds)
                        epochs = " ".join(f"{s:.2f}" for s in seconds)
                        line = f"round {round_} batch {batch} {name}: epochs {epochs} s (settled {waited:.1f} s)"
                        print(line, flush=True)
        finally:
            maas.stop()
    print(f"machine after: {machine()}")
    print("\n".join(summarize(args.rows, runs, backends)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-run"]:
        print(json.dumps(bare_fit(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
