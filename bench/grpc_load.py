"""The gRPC side of `bench/serving.py`: a load generator for ModelInfer, and the gRPC floor.

The load generator sends pre-serialized requests (raw tensors, as `tritonclient.grpc` sends them) from
`concurrency` grpc.aio tasks over one channel and never decodes the answers, as wrk never parses a body. The
floor is an empty `inference.GRPCInferenceService`: it decodes each ModelInferRequest and answers a fixed
response, without a model, on the event loop uvicorn would pick (uvloop when installed).

    .venv/bin/python bench/grpc_load.py floor PORT
"""

from __future__ import annotations

import asyncio
import sys
import time

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def infer_request(model: str, row: np.ndarray) -> bytes:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="input", datatype="FP32", shape=[1, row.size])
    request.raw_input_contents.append(row.astype("<f4").tobytes())
    return request.SerializeToString()


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
