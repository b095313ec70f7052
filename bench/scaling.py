"""Jobs per hour against worker slots, and what running jobs as Ray tasks costs against local child processes.

For each configuration, starts a real `maas serve` on loopback (SQLite in a temp dir) with MAAS_WORKERS=N and
MAAS_EXECUTOR=local or ray (ray: the private Ray that maas starts on 127.0.0.1 when MAAS_RAY_ADDRESS is unset),
lets it settle, submits a batch of identical small iris jobs at once and measures the wall time from the first
POST until the last job finished. Then, with one slot and nothing else queued, the latency of single jobs:
POST -> succeeded (claim, process start, TensorFlow import, training, publishing) and the time the job's own
process spent training (first recorded epoch -> finished).

    .venv/bin/python bench/scaling.py [--jobs 12] [--slots 1 2 4] [--ray-slots 1 2] [--singles 3]

Prints one markdown table per measurement; the machine's load average is printed before and after, since other
work on the machine changes every figure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

SPEC: dict[str, Any] = {
    "model_name": "scaling",
    "dataset": {"builtin": "iris"},
    "model": {
        "layers": [
            {"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dense", "units": 3, "activation": "softmax"},
        ]
    },
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "fit": {"epochs": 20, "batch_size": 16},
    "seed": 7,
}
TERMINAL = {"succeeded", "failed", "cancelled", "pruned"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Maas:
    """`maas serve` in a temp dir, with its own private Ray when the executor is ray."""

    def __init__(self, executor: str, slots: int, tmp: Path) -> None:
        port = free_port()
        self.ray_tmp = tempfile.mkdtemp(prefix="maas-bench-ray-", dir="/tmp")  # short: Ray's socket paths
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
        env.update(
            MAAS_DATA_DIR=str(tmp / "data"),
            MAAS_PORT=str(port),
            MAAS_WORKERS=str(slots),
            MAAS_EXECUTOR=executor,
            MAAS_LOG_LEVEL="WARNING",
            TF_CPP_MIN_LOG_LEVEL="2",
            RAY_TMPDIR=self.ray_tmp,
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN=secrets.token_hex(32),
        )
        maas = Path(sys.executable).with_name("maas")
        self._log = (tmp / "server.log").open("wb")
        self.proc = subprocess.Popen([str(maas), "serve"], env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        for _ in range(1200):
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit("maas serve did not start")

    def submit(self, n: int) -> list[str]:
        return [self.http.post("/train", json=SPEC).json()["id"] for _ in range(n)]

    def wait_all(self, ids: list[str]) -> list[dict[str, Any]]:
        pending, done = set(ids), {}
        while pending:
            for job_id in list(pending):
                job = self.http.get(f"/jobs/{job_id}").json()
                if job["status"] in TERMINAL:
                    if job["status"] != "succeeded":
                        raise SystemExit(f"job {job_id} {job['status']}: {job['error']}")
                    done[job_id] = job
                    pending.discard(job_id)
            time.sleep(0.05)
        return [done[i] for i in ids]

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(60)
        self._log.close()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


def throughput(executor: str, slots: int, jobs: int) -> float:
    """Jobs per hour for a batch of `jobs` submitted at once."""
    with tempfile.TemporaryDirectory() as tmp:
        maas = Maas(executor, slots, Path(tmp))
        try:
            time.sleep(8)  # the local executor's spare child imports TensorFlow; Ray's workers start
            started = time.monotonic()
            maas.wait_all(maas.submit(jobs))
            return jobs / (time.monotonic() - started) * 3600
        finally:
            maas.stop()


def singles(executor: str, runs: int) -> tuple[list[float], list[float]]:
    """POST -> succeeded, and first recorded epoch -> finished, for `runs` jobs one after the other."""
    totals, training = [], []
    with tempfile.TemporaryDirectory() as tmp:
        maas = Maas(executor, 1, Path(tmp))
        try:
            for _ in range(runs):
                time.sleep(8)
                posted = time.monotonic()
                job = maas.wait_all(maas.submit(1))[0]
                totals.append(time.monotonic() - posted)
                finished = datetime.fromisoformat(job["finished_at"])
                training.append((finished - datetime.fromisoformat(job["started_at"])).total_seconds())
        finally:
            maas.stop()
    return totals, training


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--slots", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--ray-slots", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--singles", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {load()}   cores: {os.cpu_count()}   jobs per batch: {args.jobs}\n")
    print("| executor | worker slots | jobs per hour |\n|---|---|---|")
    for executor, slot_counts in (("local", args.slots), ("ray", args.ray_slots)):
        for slots in slot_counts:
            print(f"| {executor} | {slots} | {throughput(executor, slots, args.jobs):.0f} |", flush=True)
    if args.singles:
        print("\n| executor | POST -> succeeded (median / max) | claimed -> finished (median) |\n|---|---|---|")
        for executor in ("local", "ray"):
            totals, training = singles(executor, args.singles)
            median, worst = statistics.median(totals), max(totals)
            print(f"| {executor} | {median:.2f} s / {worst:.2f} s | {statistics.median(training):.2f} s |", flush=True)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
