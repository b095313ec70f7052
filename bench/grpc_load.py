"""The gRPC side of `bench/serving.py`: load generators for ModelInfer, and the gRPC floor.

Both generators send one pre-serialized request (raw tensors, as `tritonclient.grpc` sends them) and never decode
the answers, as wrk never parses a body. `h2load` (nghttp2's C load generator, Debian's `nghttp2-client`) is the
one to compare with wrk's REST rows: `concurrency` calls in flight over two HTTP/2 connections (as a gRPC client
multiplexes calls on its channel, where HTTP/1.1 needs a connection per request in flight), the gRPC frame as
the body.
Without it, `load` runs `concurrency` grpc.aio tasks over one channel in Python, which a 2-core machine's client
side limits long before the server. The floor is an empty `inference.GRPCInferenceService`: it decodes each
ModelInferRequest and answers a fixed response, without a model, on the event loop uvicorn would pick (uvloop
when installed).

    .venv/bin/python bench/grpc_load.py floor PORT
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def infer_request(model: str, row: np.ndarray) -> bytes:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="input", datatype="FP32", shape=[1, row.size])
    request.raw_input_contents.append(row.astype("<f4").tobytes())
    return request.SerializeToString()


def h2load(
    target: str, request: bytes, *, concurrency: int, duration: float, workdir: Path
) -> tuple[list[float], int, float]:
    """Latencies (s) of the calls answered with HTTP 200 in `duration` seconds, the failed calls, and the
    measured seconds. A gRPC error also answers HTTP 200 (its status is in the trailers): the caller checks the
    answers first with `load`, which does read the status."""
    body = workdir / "grpc-request.bin"
    body.write_bytes(b"\x00" + len(request).to_bytes(4, "big") + request)  # uncompressed, length-prefixed frame
    log = workdir / "h2load.log"
    log.unlink(missing_ok=True)  # h2load appends to its log file
    connections = min(concurrency, 2)  # as a gRPC client does: few channels, many calls in flight on each
    cmd = [
        "h2load",
        f"--clients={connections}",
        f"--threads={connections}",
        f"--max-concurrent-streams={concurrency // connections}",
        f"--duration={max(1, round(duration))}",
        f"--data={body}",
        "--header=content-type: application/grpc",
        "--header=te: trailers",
        f"--log-file={log}",
        f"http://{target}{METHOD}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    seconds = float(re.search(r"finished in ([\d.]+)s", out).group(1))
    rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    latencies = [int(us) / 1e6 for _, status, us in rows if status == "200"]
    return latencies, len(rows) - len(latencies), seconds


def load(target: str, request: bytes, concurrency: int, duration: float) -> tuple[list[float], int]:
    """Latencies (s) of the calls answered OK in `duration` seconds, and the number of failed calls."""

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        async with grpc.aio.insecure_channel(target) as channel:
            call = channel.unary_unary(METHOD)  # bytes in, bytes out
            deadline = time.perf_counter() + duration

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    try:
                        await call(request, timeout=30)
                    except grpc.RpcError:
                        errors += 1
                        continue
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, errors

    return asyncio.run(run())


async def serve_floor(port: int) -> None:
    answer = pb.ModelInferResponse(model_name="floor", model_version="1")
    answer.outputs.add(name="output_0", datatype="FP32", shape=[1, 10])
    answer.raw_output_contents.append(np.zeros(10, "<f4").tobytes())

    async def infer(_request: pb.ModelInferRequest, _context: grpc.aio.ServicerContext) -> pb.ModelInferResponse:
        return answer

    handler = grpc.unary_unary_rpc_method_handler(
        infer,
        request_deserializer=pb.ModelInferRequest.FromString,
        response_serializer=pb.ModelInferResponse.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {"ModelInfer": handler})]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    if sys.argv[1:2] != ["floor"] or len(sys.argv) != 3:
        raise SystemExit(__doc__)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_floor(int(sys.argv[2])))
    else:
        uvloop.run(serve_floor(int(sys.argv[2])))


if __name__ == "__main__":
    main()
