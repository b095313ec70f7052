"""How long from `POST /train` until the job's child is training: claim latency and first finished epoch.

Starts a real `maas serve` on loopback (embedded worker, SQLite in a temp dir), lets its idle child warm up,
submits a tiny 1-epoch iris job a few times and reports, per run: created -> started (claimed and handed to a
child) and created -> first epoch recorded. Run with `MAAS_PREWARM=false` to see the cost without a warm child.

    .venv/bin/python bench/job_latency.py [--runs 5] [--prewarm/--no-prewarm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

SPEC = {
    "model_name": "latency",
    "dataset": {"builtin": "iris"},
    "model": {
        "layers": [
            {"type": "dense", "units": 8, "activation": "relu"},
            {"type": "dense", "units": 3, "activation": "softmax"},
        ]
    },
    "loss": "sparse_categorical_crossentropy",
    "fit": {"epochs": 1, "batch_size": 150},
}


def wait_healthy(client: httpx.Client) -> None:
    for _ in range(300):
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start")


def one_run(client: httpx.Client) -> tuple[float, float]:
    posted = time.monotonic()
    job = client.post("/train", json=SPEC).json()
    first_epoch = None
    while True:
        state = client.get(f"/jobs/{job['id']}").json()
        if first_epoch is None and state["progress"]["epoch"] >= 1:
            first_epoch = time.monotonic() - posted
        if state["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.005)
    created = datetime.fromisoformat(state["created_at"])
    started = datetime.fromisoformat(state["started_at"])
    return (started - created).total_seconds(), first_epoch or float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prewarm", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MAAS_DATA_DIR": tmp,
            "MAAS_PORT": "8765",
            "MAAS_PREWARM": str(args.prewarm).lower(),
            "MAAS_LOG_LEVEL": "WARNING",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        maas = Path(sys.executable).with_name("maas")
        server = subprocess.Popen([str(maas), "serve"], env=env, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url="http://127.0.0.1:8765", timeout=60) as client:
                wait_healthy(client)
                results = []
                for _ in range(args.runs):
                    time.sleep(8)  # let the supervisor pre-start (and warm) the next child
                    results.append(one_run(client))
        finally:
            server.terminate()
            server.wait(30)
    claims = [r[0] * 1000 for r in results]
    epochs = [r[1] * 1000 for r in results]
    print(f"prewarm={args.prewarm} runs={args.runs}")
    print(f"POST -> claimed by a child:   median {statistics.median(claims):7.1f} ms  max {max(claims):7.1f} ms")
    print(f"POST -> first epoch recorded: median {statistics.median(epochs):7.1f} ms  max {max(epochs):7.1f} ms")


if __name__ == "__main__":
    main()
