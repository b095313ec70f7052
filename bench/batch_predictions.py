"""A batch prediction through a real `maas serve`'s worker against ONNX Runtime in this process: rows/s and the
prediction child's peak RSS.

Generates the MNIST-shaped Parquet file of `bench/big_data.py`, starts a real `maas serve` (one embedded worker, no
pre-started child, SQLite in a temp dir) with the file's folder in MAAS_DATASET_SOURCES, registers it, trains the
784-128-64-10 MLP on it for one epoch (its version is served by ONNX Runtime), then runs `POST /batch-predictions`
over the whole file. While the job runs, every process under the server is sampled for its peak resident set
(VmHWM); the peak reported is that of the processes started after the job was submitted (the prediction's child,
not the training child, which may still be exiting). The child also logs its own peak and whether it loaded
Keras/TensorFlow when the job ends. The baseline is the same version's ONNX file scored in this process through
the runtime the worker uses (one thread), over the rows already in memory, at the job's batch size. Rates: rows /
the job's running time (started_at..finished_at: child start, reading the file, scoring, writing the shards and the
output) and rows / the in-process scoring time.
The issue's targets: the child's peak < 1 GB, the job's rate >= 0.7x in-process. Then the job's stages are timed
alone over the same rows (decoding the file, filling row-major arrays, scoring), and their CPU-seconds over the
machine's cores give the best ratio any overlap of them could reach here.

    .venv/bin/python bench/batch_predictions.py [--rows 200000] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import big_data  # bench/big_data.py: this script's own directory comes first on sys.path
import httpx
import numpy as np
import serving  # bench/serving.py
from profiling import descendants, memory_mib  # bench/profiling.py

MAAS = str(Path(sys.executable).with_name("maas"))


def wait_finished(client: httpx.Client, job_id: str, peaks: dict[int, int] | None = None) -> dict[str, Any]:
    """Poll the job until it ends; with `peaks` ({server pid: 0}), track the peak VmHWM of every process under
    the server, by pid."""
    server = next(iter(peaks)) if peaks is not None else 0
    while True:
        if peaks is not None:
            for pid in descendants(server):
                peaks[pid] = max(peaks.get(pid, 0), int(memory_mib(pid).get("VmHWM", 0.0)))
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            if job["status"] != "succeeded":
                raise SystemExit(f"job {job_id} {job['status']}: {job['error']}")
            return job
        time.sleep(0.1)


def running_s(job: dict[str, Any]) -> float:
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def features_in_memory(path: Path, *, rows: int) -> tuple[np.ndarray, dict[str, float]]:
    """The file's features, every row, as the child reads them (one array, no pandas copy: 1M rows take 3 GB),
    and the CPU-seconds (all threads) that decoding the file and filling float32 rows took, each timed on its own:
    the rows are filled into reused arrays as the job's are (filling the fresh 3 GB array itself faults in every
    page on the way, ~10x slower here), then copied into place untimed."""
    from app.datasets.arrays import features_array
    from app.datasets.files import iter_tables
    from app.worker.scoring import Reused

    names = [f"p{i}" for i in range(big_data.FEATURES)]
    x = np.empty((rows, len(names)), np.float32)
    arrays = Reused(3, len(names))
    cpu = {"decode": 0.0, "fill": 0.0}
    tables = iter_tables([str(path)], "parquet", columns=names)
    while True:
        started = time.process_time()
        item = next(tables, None)
        cpu["decode"] += time.process_time() - started
        if item is None:
            return x, cpu
        _url, first_row, table = item
        started = time.process_time()
        filled = features_array(table, features=names, out=arrays.next(table.num_rows))
        cpu["fill"] += time.process_time() - started
        x[first_row : first_row + table.num_rows] = filled


def in_process(onnx: Path, x: np.ndarray, batch_size: int) -> float:
    """Seconds ONNX Runtime takes here for every row of `x`, `batch_size` rows a call (best of three)."""
    from app.serving.runtimes import onnx_runtime

    infer = onnx_runtime(onnx)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(0, len(x), batch_size):
            infer(np.ascontiguousarray(x[i : i + batch_size]))
        best = min(best, time.perf_counter() - started)
    return best


def print_floor(stages: dict[str, float], baseline: float, *, rows: int) -> None:
    """The job's three stages timed alone over the same rows, and the ratio no schedule of them could beat here:
    on `cores` cores the job takes at least their CPU-seconds / cores, however well they overlap."""
    cores = os.cpu_count() or 1
    cpu = {
        "decode Parquet (Arrow, its threads)": stages["decode"],
        "fill row-major float32 (features_array)": stages["fill"],
        "score (ONNX Runtime, one thread)": baseline,
    }
    print("\n| stage, alone over every row | CPU s | CPU s per 1M rows |\n|---|---:|---:|")
    for name, seconds in cpu.items():
        print(f"| {name} | {seconds:.2f} | {seconds / rows * 1e6:.2f} |")
    floor = sum(cpu.values()) / cores
    print(f"| the three / {cores} cores: the shortest any overlap allows | {floor:.2f} | {floor / rows * 1e6:.2f} |")
    print(f"\nCeiling on this machine: {baseline / floor:.2f}x in-process (the job's start and writes not counted).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--dictionary", action="store_true", help="dictionary-encode the features (pyarrow's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-bench-batch-") as folder:
        source, data_dir = Path(folder) / "source", Path(folder) / "data"
        source.mkdir()
        path = source / "big.parquet"
        big_data.make_parquet(path, args.rows, big_data.FEATURES, dictionary=args.dictionary)
        port = serving.free_port()
        env = serving.api_only_env(
            data_dir, MAAS_GRPC_PORT="0", MAAS_DATASET_SOURCES=f"file://{source}/", MAAS_DRIFT_CHECK_S="0"
        )
        env.update(MAAS_WORKERS="1", MAAS_LOG_LEVEL="INFO")  # one job slot; INFO: the child's footprint line
        log_path = Path(folder) / "maas.log"
        server = subprocess.Popen(
            [MAAS, "serve", "--port", str(port)], env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            serving.wait_healthy(url, "/healthz", server)
            with httpx.Client(base_url=url, timeout=60) as client:
                body = {"name": "big", "source": f"file://{path}", "format": "parquet", "target": "label"}
                dataset_id = client.post("/datasets", json=body).raise_for_status().json()["id"]
                (profile,) = client.get("/jobs", params={"kind": "profile"}).json()
                wait_finished(client, profile["id"])
                spec = {
                    "model_name": "big",
                    "dataset": {"id": dataset_id},
                    "model": {"layers": big_data.LAYERS},
                    "loss": "sparse_categorical_crossentropy",
                    "metrics": ["accuracy"],
                    "fit": {"epochs": 1, "batch_size": 256},
                    "seed": 0,
                }
                trained = wait_finished(client, client.post("/train", json=spec).raise_for_status().json()["id"])
                version = trained["model"]["version"]
                meta = client.get(f"/models/big/versions/{version}").json()
                batch = {"model": "big", "version": version, "dataset": {"id": dataset_id}, "format": "parquet"}
                # the children already there (the training job's, still exiting) are not the prediction's
                earlier = set(descendants(server.pid))
                peaks = {server.pid: 0}
                submitted = time.perf_counter()
                job_id = client.post("/batch-predictions", json={**batch, "batch_size": args.batch_size}).json()["id"]
                job = wait_finished(client, job_id, peaks)
                peak = max((mib for pid, mib in peaks.items() if pid not in earlier and pid != server.pid), default=0)
                wall = time.perf_counter() - submitted
        finally:
            server.terminate()
            server.wait(30)
        log = log_path.read_text(errors="replace")
        line = rf"job {job_id} \(predict\) delivered; peak RSS (\d+) MiB, Keras/TensorFlow ([a-z ]+)"
        footprint = re.search(line, log)
        x, stages = features_in_memory(path, rows=args.rows)
        onnx_files = list(data_dir.rglob(meta["onnx"])) if meta.get("onnx") else []
        baseline = in_process(onnx_files[0], x, args.batch_size) if onnx_files else float("nan")
    rows = job["progress"]["rows"]
    running = running_s(job)
    machine = platform.processor() or platform.machine()
    print(f"Machine: {os.cpu_count()} cores ({machine}), Python {platform.python_version()}\n")
    print(
        "| rows x features | runtime | batch | job running s | job rows/s | submit-to-done s | in-process ORT rows/s "
        "| ratio | child peak MiB (sampled / own) | Keras/TF in child |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratio = (rows / running) / (rows / baseline)
    own = footprint.group(1) if footprint else "?"
    print(
        f"| {rows:,} x {big_data.FEATURES} | {meta.get('runtime')} | {args.batch_size} | {running:.2f} "
        f"| {rows / running:,.0f} | {wall:.2f} | {rows / baseline:,.0f} | {ratio:.2f}x | {peak} / {own} "
        f"| {footprint.group(2) if footprint else '?'} |"
    )
    print_floor(stages, baseline, rows=rows)
    print(
        f"\nTargets: child peak < 1 GB ({'met' if peak < 1024 else 'MISSED'}), "
        f">= 0.7x in-process ({'met' if ratio >= 0.7 else 'MISSED'})."
    )


if __name__ == "__main__":
    main()
