"""Where a ModelInfer call's time goes inside maas: the same `maas serve` with its ModelInfer handler cut short at
each stage, side by side with the empty gRPC servicer of `bench/grpc_load.py` (another process, the gRPC floor).

Stages, each one more step of the real handler (app/grpc/oip.py) before a fixed answer:
  empty   answers at once (what grpc.aio and maas' call wrapper cost: metrics, request id)
  route   + resolving the version and finding it loaded (`Serving.route`)
  decode  + the request's tensors as a checked float32 batch (`decode_infer`)
  infer   + the model call through the batcher (ONNX Runtime)
  full    the real handler (+ payload log and shadow checks, the answer encoded)

Every server gets the same h2load load (one raw-tensor row per call, as `bench/serving.py`), rounds interleaved.
Besides requests/s and p50, the main thread's CPU per call is read from /proc: on grpc.aio every handler runs on
the event loop's thread, whose time per call bounds the rate.

    .venv/bin/python bench/grpc_stages.py [--duration 2] [--rounds 2] [--concurrency 1 64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STAGES = ("empty", "route", "decode", "infer", "full")
ROOT = Path(__file__).resolve().parents[1]


def serve(stage: str, argv: list[str]) -> None:
    """`maas serve argv...` with ModelInfer cut at `stage`."""
    from tritonclient.grpc import service_pb2 as pb

    from app.cli import main
    from app.grpc import oip, tensors
    from app.serving.service import parse_version

    answer = pb.ModelInferResponse(model_name="mnist-mlp", model_version="1")
    answer.outputs.add(name="output", datatype="FP32", shape=[1, 10])
    answer.raw_output_contents.append(bytes(40))

    async def cut(self: oip.InferenceService, request: Any, note: Any) -> Any:
        if stage == "empty":
            return answer
        name = request.model_name
        loaded, _ = await self.serving.route(name, parse_version(name, request.model_version or None), None)
        note.model = name
        if stage == "route":
            return answer
        call = tensors.decode_infer(request, loaded.meta)
        if stage == "decode":
            return answer
        await self.serving.infer(loaded, call.batch)
        return answer

    if stage != "full":
        oip.InferenceService.model_infer = cut
    sys.argv = ["maas", *argv]
    sys.exit(main())


def main_thread_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--serve", choices=STAGES, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.serve:
        serve(args.serve, rest)
        return
    if shutil.which("h2load") is None:
        raise SystemExit("h2load is needed (Debian: nghttp2-client)")

    import grpc_load  # bench/ is this script's folder: first on sys.path
    import numpy as np
    import serving as bench_serving

    workdir = Path(tempfile.mkdtemp(prefix="maas-grpc-stages-"))
    bench_serving.publish_mlp(workdir / "data")
    row = np.random.default_rng(2).random(784, dtype=np.float32)
    request = grpc_load.infer_request(bench_serving.MODEL, row)
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for stage in STAGES:
            port, grpc_port = bench_serving.free_port(), bench_serving.free_port()
            env = bench_serving.api_only_env(workdir / "data", MAAS_GRPC_PORT=str(grpc_port))
            env["PYTHONPATH"] = str(ROOT)
            log = (workdir / f"{stage}.log").open("wb")
            command = [sys.executable, __file__, "--serve", stage, "serve", "--port", str(port)]
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            servers[stage] = (proc, grpc_port)
            bench_serving.wait_healthy(f"http://127.0.0.1:{port}", "/healthz", proc)
        floor_port = bench_serving.free_port()
        floor = subprocess.Popen([sys.executable, str(ROOT / "bench" / "grpc_load.py"), "floor", str(floor_port)])
        servers["floor (empty servicer, own process)"] = (floor, floor_port)
        for name, (_, grpc_port) in servers.items():  # every server answers correctly, and is warm
            deadline = time.monotonic() + 60
            while bench_serving.grpc_cell(f"127.0.0.1:{grpc_port}", request, 1, 0.5).errors:
                assert time.monotonic() < deadline, f"{name} does not answer"
        cells: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        for _ in range(args.rounds):
            for concurrency in args.concurrency:
                for name, (proc, grpc_port) in servers.items():
                    before = main_thread_seconds(proc.pid)
                    load = bench_serving.grpc_cell(
                        f"127.0.0.1:{grpc_port}", request, concurrency, args.duration, workdir
                    )
                    calls = max(load.rps * args.duration, 1)
                    cpu_us = (main_thread_seconds(proc.pid) - before) / calls * 1e6
                    cells.setdefault((name, concurrency), []).append((load.rps, load.p50_ms, cpu_us))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rounds = f"medians of {args.rounds} rounds of {args.duration:g} s"
    print(f"h2load, one 784-float row per call, {rounds}; load average after {load_avg}")
    columns = (f"c={c} req/s | c={c} p50 ms | c={c} main-thread us/call" for c in args.concurrency)
    print("\n| server | " + " | ".join(columns) + " |")
    print("|---|" + "---:|---:|---:|" * len(args.concurrency))
    for name in servers:
        row_cells = []
        for concurrency in args.concurrency:
            runs = cells[(name, concurrency)]
            row_cells += [f"{statistics.median(r[i] for r in runs):,.{d}f}" for i, d in ((0, 0), (1, 2), (2, 0))]
        print(f"| {name} | " + " | ".join(row_cells) + " |")


if __name__ == "__main__":
    main()
