"""Serving throughput and latency: maas' /predict, /v1 and /v2 against the floor and a hand-written server.

Publishes the classic 784-128-64-10 MNIST MLP (one epoch on synthetic 784-feature data, exported as maas' worker
does) into a temp registry, starts a real `maas serve` (API only) on loopback over it, then loads each endpoint with one
784-float row per request at concurrency 1, 8 and 64 (wrk when installed, else a bounded async httpx client),
side by side with:
  (a) the raw compiled model call in this process (ONNX Runtime and the compiled TensorFlow function) — the floor;
  (b) a plain FastAPI endpoint calling `model.predict` per request — what a user writes by hand;
  (c) an empty FastAPI endpoint that only parses the same body with orjson — the HTTP floor;
  (d) an empty gRPC servicer that only decodes the same ModelInferRequest — the gRPC floor.
(b) and (c) run in `bench/baseline_app.py` under uvicorn, configured as maas is, (d) in `bench/grpc_load.py`.
maas' gRPC ModelInfer (raw tensors, as `tritonclient.grpc` sends them) is loaded by h2load when installed (else
by grpc.aio clients); the HTTP endpoints by wrk when installed (else httpx). Prints a Markdown report.

    .venv/bin/python bench/serving.py [--duration 2] [--rounds 3] [--concurrency 1 8 64] [--only gRPC /v2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc_load  # bench/grpc_load.py: this script's own directory comes first on sys.path
import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
MAAS = str(Path(sys.executable).with_name("maas"))
MODEL = "mnist-mlp"


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def api_only_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a benchmarked `maas serve`: API only over `data_dir`, quiet, none of the caller's MAAS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env.update(
        MAAS_DATA_DIR=str(data_dir),
        MAAS_WORKERS="0",
        MAAS_PREWARM="false",
        MAAS_LOG_LEVEL="WARNING",
        TF_CPP_MIN_LOG_LEVEL="2",
        **overrides,
    )
    return env


def summarize(latencies: list[float], errors: int, duration: float) -> Load:
    """Requests/s, p50 and p99 (ms) of one measurement's request latencies (seconds)."""
    latencies = sorted(latencies)
    return Load(
        len(latencies) / duration,
        latencies[len(latencies) // 2] * 1e3,
        latencies[int(len(latencies) * 0.99)] * 1e3,
        errors,
    )


def median_load(loads: list[Load]) -> Load:
    return Load(
        statistics.median(x.rps for x in loads),
        statistics.median(x.p50_ms for x in loads),
        statistics.median(x.p99_ms for x in loads),
        sum(x.errors for x in loads),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, path: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url} exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


def wait_idle(url: str, body: bytes, timeout: float = 60) -> None:
    """Until the hand-written server has worked off the requests still queued in its thread pool."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.post(url, content=body)
            if time.perf_counter() - started < 0.05:
                return
            time.sleep(0.5)


def publish_mlp(data_dir: Path) -> dict[str, object]:
    """Train the MLP for one epoch on synthetic 784-feature data and publish it as maas' worker would (exports
    included: SavedModel and verified ONNX); returns the version's metadata."""
    import keras

    from app.registry import LocalRegistry
    from app.registry.local import ARTIFACT
    from app.settings import Settings
    from app.training.export import export_for_serving

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((1024, 784), dtype=np.float32)
    model.fit(x, np.arange(1024) % 10, epochs=1, batch_size=64, verbose=0)
    registry = LocalRegistry(Settings(data_dir=data_dir).resolved_registry_dir)
    staged = registry.new_staging_dir()
    model.save(staged / ARTIFACT)
    metadata = {
        "input_shape": [None, 784],
        "output_shape": [None, 10],
        "task": "classification",
        "classes": [str(i) for i in range(10)],
        **export_for_serving(model, staged, x),
    }
    return registry.publish(MODEL, staged, metadata).model_dump(mode="json")


def bodies(row: list[float]) -> dict[str, bytes]:
    instances = orjson.dumps({"instances": [row]})
    return {
        "predict": orjson.dumps({"model": MODEL, "instances": [row]}),
        "v1": instances,
        "v2": orjson.dumps({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": row}]}),
        "hand": instances,
        "empty": orjson.dumps({"model": MODEL, "instances": [row]}),
    }


def wrk(url: str, body: bytes, concurrency: int, duration: float, workdir: Path) -> Load:
    body_file = workdir / f"body-{abs(hash(body))}.json"
    body_file.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    threads = min(concurrency, 2)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Load(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), _ms(out, "50%"), _ms(out, "99%"), errors)


def _ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def httpx_load(url: str, body: bytes, concurrency: int, duration: float) -> Load:
    """Fallback without wrk: `concurrency` client tasks posting back to back for `duration` seconds."""

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    response = await client.post(url, content=body, headers={"content-type": "application/json"})
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code != 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, errors

    latencies, errors = asyncio.run(run())
    return summarize(latencies, errors, duration)


def grpc_cell(target: str, request: bytes, concurrency: int, duration: float, workdir: Path | None = None) -> Load:
    """One gRPC measurement: by h2load when `workdir` is given (its scratch folder), else by grpc.aio clients."""
    if workdir is None:
        latencies, errors = grpc_load.load(target, request, concurrency, duration)
        return summarize(latencies, errors, duration)
    latencies, errors, seconds = grpc_load.h2load(
        target, request, concurrency=concurrency, duration=duration, workdir=workdir
    )
    return summarize(latencies, errors, seconds)


def raw_calls(version_dir: Path, meta: dict[str, object]) -> dict[str, float]:
    """Median time in ms of one in-process call at batch 1 and 64, per runtime (the floor)."""
    from app.registry import ModelVersion
    from app.serving.runtimes import onnx_runtime, tensorflow_runtime

    version = ModelVersion.model_validate(meta)
    runtimes = {
        "onnxruntime": onnx_runtime(version_dir / "model.onnx"),
        "tensorflow": tensorflow_runtime(version_dir / "model.keras", version),
    }
    results = {}
    for name, infer in runtimes.items():
        for rows in (1, 64):
            batch = np.random.default_rng(1).random((rows, 784), dtype=np.float32)
            for _ in range(50):
                infer(batch)
            times = []
            for _ in range(500):
                started = time.perf_counter()
                infer(batch)
                times.append(time.perf_counter() - started)
            results[f"{name} batch {rows}"] = statistics.median(times) * 1e3
    import keras

    model = keras.saving.load_model(version_dir / "model.keras", compile=False)
    one = np.random.default_rng(1).random((1, 784), dtype=np.float32)
    model.predict(one, verbose=0)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        model.predict(one, verbose=0)
        times.append(time.perf_counter() - started)
    results["model.predict batch 1"] = statistics.median(times) * 1e3
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per cell; the report shows medians")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--batch-max-delay-ms", default="2.0")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="TEXT",
        help="measure only the rows whose name contains one of these (e.g. gRPC /v2)",
    )
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    use_h2load = shutil.which("h2load") is not None
    workdir = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    port, base_port, grpc_port, floor_port = free_port(), free_port(), free_port(), free_port()
    env = api_only_env(workdir / "data", MAAS_BATCH_MAX_DELAY_MS=args.batch_max_delay_ms, MAAS_GRPC_PORT=str(grpc_port))
    meta = publish_mlp(workdir / "data")
    log = (workdir / "maas.log").open("wb")
    print(f"maas log: {workdir / 'maas.log'}", file=sys.stderr)
    maas = subprocess.Popen([MAAS, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    procs = [maas]
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, "/healthz", maas)
        version_dir = workdir / "data" / "registry" / MODEL / "1"
        base = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "baseline_app.py"), str(version_dir / "model.keras"), str(base_port)],
            env=env,
        )
        procs.append(base)
        floor = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "grpc_load.py"), "floor", str(floor_port)], env=env
        )
        procs.append(floor)
        base_url = f"http://127.0.0.1:{base_port}"
        wait_healthy(base_url, "/docs", base)
        row = np.random.default_rng(2).random(784, dtype=np.float32).tolist()
        payloads = bodies(row)
        targets = {  # the hand-written server last: it goes on working through its backlog after each run
            "(c) empty orjson endpoint": (f"{base_url}/empty", payloads["empty"]),
            "maas /predict": (f"{url}/predict", payloads["predict"]),
            "maas /v1 :predict": (f"{url}/v1/models/{MODEL}:predict", payloads["v1"]),
            "maas /v2 infer": (f"{url}/v2/models/{MODEL}/infer", payloads["v2"]),
            "(b) hand-written model.predict": (f"{base_url}/predict", payloads["hand"]),
        }
        request = grpc_load.infer_request(MODEL, np.asarray(row, dtype=np.float32))
        grpc_targets = {
            "(d) empty gRPC servicer": f"127.0.0.1:{floor_port}",
            "maas gRPC ModelInfer": f"127.0.0.1:{grpc_port}",
        }
        if args.only:
            targets = {name: target for name, target in targets.items() if any(t in name for t in args.only)}
            grpc_targets = {name: target for name, target in grpc_targets.items() if any(t in name for t in args.only)}
        for name, (target, body) in targets.items():  # correct answers first, and warm everything up
            response = httpx.post(target, content=body, headers={"content-type": "application/json"}, timeout=60)
            assert response.status_code == 200, (name, response.text)
        for name, target in grpc_targets.items():
            assert grpc_cell(target, request, 1, 0.5).errors == 0, name
        runs: dict[tuple[str, int], list[Load]] = {}
        for round_ in range(args.rounds):  # rounds interleave the servers, so a noisy moment hits all alike
            for concurrency in args.concurrency:
                for name, (target, body) in targets.items():
                    if use_wrk:
                        load = wrk(target, body, concurrency, args.duration, workdir)
                    else:
                        load = httpx_load(target, body, concurrency, args.duration)
                    runs.setdefault((name, concurrency), []).append(load)
                    print(f"  round {round_ + 1} {name} c={concurrency}: {load}", file=sys.stderr)
                for name, target in grpc_targets.items():
                    load = grpc_cell(target, request, concurrency, args.duration, workdir if use_h2load else None)
                    runs.setdefault((name, concurrency), []).append(load)
                    print(f"  round {round_ + 1} {name} c={concurrency}: {load}", file=sys.stderr)
                if "(b) hand-written model.predict" in targets:
                    wait_idle(f"{base_url}/empty", payloads["empty"])
        results = {key: median_load(loads) for key, loads in runs.items()}
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    raw = raw_calls(version_dir, meta)
    report(args, use_wrk, use_h2load, meta, raw, results, metrics)
    shutil.rmtree(workdir, ignore_errors=True)


def report(
    args: argparse.Namespace,
    use_wrk: bool,
    use_h2load: bool,
    meta: dict[str, object],
    raw: dict[str, float],
    results: dict[tuple[str, int], Load],
    metrics: str,
) -> None:
    import onnxruntime
    import tensorflow as tf

    machine = f"{os.cpu_count()} cores ({platform.processor() or platform.machine()})"
    libraries = (
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, ONNX Runtime {onnxruntime.__version__}"
    )
    served = f"served by {meta['runtime']} (ONNX max abs diff {meta.get('onnx_max_abs_diff')})"
    tool = ("wrk" if use_wrk else "httpx") + " (HTTP), " + ("h2load" if use_h2load else "grpc.aio") + " (gRPC)"
    method = f"medians of {args.rounds} interleaved rounds of {args.duration:g} s per cell"
    print(f"Machine: {machine}, {libraries}; load by {tool}, {method}; {served}\n")
    print("| in-process call | ms |\n|---|---|")
    for name, ms in raw.items():
        print(f"| {name} | {ms:.3f} |")
    print("\n| endpoint | " + " | ".join(f"c={c} req/s | c={c} p50 ms | c={c} p99 ms" for c in args.concurrency) + " |")
    print("|---|" + "---|---|---|" * len(args.concurrency))
    for name in dict.fromkeys(n for n, _ in results):
        cells = []
        for c in args.concurrency:
            load = results[name, c]
            errors = f" ({load.errors} errors)" if load.errors else ""
            cells.append(f"{load.rps:.0f}{errors} | {load.p50_ms:.2f} | {load.p99_ms:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    count = re.search(rf'^maas_batch_size_count\{{model="{MODEL}",version="1"\}} (\S+)$', metrics, re.MULTILINE)
    total = re.search(rf'^maas_batch_size_sum\{{model="{MODEL}",version="1"\}} (\S+)$', metrics, re.MULTILINE)
    if count and total:
        print(
            f"\nmaas made {float(count.group(1)):.0f} model calls for {float(total.group(1)):.0f} rows "
            f"(mean batch {float(total.group(1)) / float(count.group(1)):.2f})."
        )
    lo, hi = min(args.concurrency), max(args.concurrency)
    rest_rows = ("(c) empty orjson endpoint", "(b) hand-written model.predict", "maas /predict", "maas /v1 :predict")
    if all((name, lo) in results for name in (*rest_rows, "maas /v2 infer")):
        rest_targets(results, raw, lo, hi)
    if all((name, lo) in results for name in ("maas gRPC ModelInfer", "maas /v2 infer", "(d) empty gRPC servicer")):
        grpc_targets(results, lo, hi)


def rest_targets(results: dict[tuple[str, int], Load], raw: dict[str, float], lo: int, hi: int) -> None:
    floor = results["(c) empty orjson endpoint", lo].p50_ms + raw["onnxruntime batch 1"]
    print(
        f"\nTargets: at c={lo}, p50 within 0.5 ms of floor round trip + raw call ({floor:.2f} ms); at c={hi}, "
        ">= 70% of the empty endpoint's req/s and >= 10x the hand-written one's."
    )
    for name in ("maas /predict", "maas /v1 :predict", "maas /v2 infer"):
        p50 = results[name, lo].p50_ms
        share = results[name, hi].rps / results["(c) empty orjson endpoint", hi].rps
        speedup = results[name, hi].rps / results["(b) hand-written model.predict", hi].rps
        print(
            f"- {name}: c={lo} p50 {p50:.2f} ms ({p50 - floor:+.2f} ms, {'met' if p50 - floor <= 0.5 else 'MISSED'}); "
            f"c={hi} {share:.0%} of empty ({'met' if share >= 0.7 else 'MISSED'}), {speedup:.0f}x hand-written "
            f"({'met' if speedup >= 10 else 'MISSED'})"
        )


def grpc_targets(results: dict[tuple[str, int], Load], lo: int, hi: int) -> None:
    grpc, rest, floor_ = (results[n, hi] for n in ("maas gRPC ModelInfer", "maas /v2 infer", "(d) empty gRPC servicer"))
    p50, rest_p50 = results["maas gRPC ModelInfer", lo].p50_ms, results["maas /v2 infer", lo].p50_ms
    print(
        f"- maas gRPC ModelInfer (targets: c={hi} >= 1.5x /v2 REST and >= 70% of the empty servicer, c={lo} p50 <= "
        f"REST's): c={hi} {grpc.rps / rest.rps:.2f}x /v2 ({'met' if grpc.rps >= 1.5 * rest.rps else 'MISSED'}), "
        f"{grpc.rps / floor_.rps:.0%} of empty servicer ({'met' if grpc.rps >= 0.7 * floor_.rps else 'MISSED'}); "
        f"c={lo} p50 {p50:.2f} ms vs {rest_p50:.2f} ms ({'met' if p50 <= rest_p50 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
