"""Profiling a registered source too big to load: what it costs the API process and the worker's profile child.

Generates the MNIST-shaped Parquet file of `bench/big_data.py` (784 float32 features, a 10-class label), starts a
real `maas serve` (one embedded worker, no pre-started child, SQLite in a temp dir) with the file's folder in
MAAS_DATASET_SOURCES, registers it with `POST /datasets` and waits for the profile job to make it `ready`. While
it runs, every process under the server is sampled for its peak resident set (VmHWM in /proc: the kernel's
high-water mark, so a short peak between samples is still counted while the process lives). The issue's targets:
the API process' RSS grows < 100 MB and the profiler's peak stays < 1 GB, for 1.3M x 784 (about 4 GB, `--target`).
The profiled mean and std are checked against those the generator computed.

    .venv/bin/python bench/profiling.py [--rows 200000] [--target]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import big_data  # bench/big_data.py: this script's own directory comes first on sys.path
import httpx
import numpy as np
import serving  # bench/serving.py

MAAS = str(Path(sys.executable).with_name("maas"))


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB (empty once it has exited, or is a zombie not yet reaped)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if "VmHWM" not in fields:
        return {}
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the worker's children), from /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=big_data.FEATURES)
    parser.add_argument("--target", action="store_true", help="the issue's target: 1,300,000 rows (~4 GB)")
    args = parser.parse_args()
    rows = big_data.TARGET_ROWS if args.target else args.rows
    with tempfile.TemporaryDirectory(prefix="maas-bench-profiling-") as folder:
        source = Path(folder) / "source"
        source.mkdir()
        path = source / "big.parquet"
        started = time.perf_counter()
        expected = big_data.make_parquet(path, rows, args.features)
        print(f"wrote {path.stat().st_size / 2**30:.2f} GiB in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        port = serving.free_port()
        env = serving.api_only_env(
            Path(folder) / "data", MAAS_GRPC_PORT="0", MAAS_DATASET_SOURCES=f"file://{source}/", MAAS_DRIFT_CHECK_S="0"
        )
        env["MAAS_WORKERS"] = "1"  # one job slot, its child started for the profile job
        log = (Path(folder) / "maas.log").open("wb")
        server = subprocess.Popen([MAAS, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            serving.wait_healthy(url, "/healthz", server)
            time.sleep(2)  # let start-up settle before the baseline is read
            before = memory_mib(server.pid)
            body = {"name": "big", "source": f"file://{path}", "format": "parquet", "target": "label"}
            with httpx.Client(base_url=url, timeout=60) as client:
                registered = client.post("/datasets", json=body)
                registered.raise_for_status()
                dataset_id = registered.json()["id"]
                started = time.perf_counter()
                child_peak = 0.0
                while True:
                    for pid in descendants(server.pid):
                        child_peak = max(child_peak, memory_mib(pid).get("VmHWM", 0.0))
                    info = client.get(f"/datasets/{dataset_id}").json()
                    if info["status"] in ("ready", "failed"):
                        break
                    time.sleep(0.2)
                took = time.perf_counter() - started
            after = memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)
        if info["status"] != "ready":
            raise SystemExit(f"profiling failed: {info['error']}")
        mean_error = float(np.max(np.abs(np.array(info["feature_mean"]) - expected["feature_mean"])))
        std_error = float(np.max(np.abs(np.array(info["feature_std"]) - expected["feature_std"])))
        growth = after["VmHWM"] - before["VmRSS"]
        print(
            f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"Python {platform.python_version()}\n"
        )
        print(
            "| rows x features | file GiB | profile s | rows/s | API RSS before MiB | API peak MiB | API growth MiB "
            "| profiler peak MiB | max mean/std error |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {info['rows']:,} x {args.features} | {path.stat().st_size / 2**30:.2f} | {took:.1f} "
            f"| {info['rows'] / took:,.0f} | {before['VmRSS']:.0f} | {after['VmHWM']:.0f} | {growth:.0f} "
            f"| {child_peak:.0f} | {max(mean_error, std_error):.1e} |"
        )
        print(
            f"\nTargets: API growth < 100 MB ({'met' if growth < 100 else 'MISSED'}), profiler peak < 1 GB "
            f"({'met' if child_peak < 1024 else 'MISSED'})."
        )


if __name__ == "__main__":
    main()
