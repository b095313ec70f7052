"""The gRPC server of one app: grpc.aio on the app's own event loop (uvicorn's), started and stopped by the
lifespan, serving through the app's `Serving` so that gRPC and HTTP requests for one version share model calls.

Stopping drains: health checks turn NOT_SERVING, new calls are refused, calls in flight get `GRACE_S` to finish
before the batcher closes.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from prometheus_client import CollectorRegistry
from tritonclient.grpc import service_pb2

from app.grpc import messages, oip
from app.grpc.auth import ApiKeyInterceptor, RoleOf
from app.grpc.metrics import GrpcMetrics
from app.grpc.tfserving import TfServingService
from app.serving.inference import Serving
from app.settings import Settings

log = logging.getLogger("maas.grpc")

#: How long calls in flight may take to finish once the server stops (uvicorn's graceful timeout, too).
GRACE_S = 10.0

SERVICES = (
    oip.SERVICE.full_name,
    messages.PREDICTION_SERVICE.full_name,
    messages.MODEL_SERVICE.full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


class GrpcServer:
    def __init__(self, server: grpc.aio.Server, health: health.aio.HealthServicer, metrics: GrpcMetrics) -> None:
        self.server, self.health, self.metrics = server, health, metrics

    @classmethod
    async def start(
        cls, settings: Settings, serving: Serving, registry: CollectorRegistry, role_of: RoleOf | None
    ) -> GrpcServer:
        """Listen on MAAS_GRPC_HOST:MAAS_GRPC_PORT (metrics go to `registry`, keys are checked with `role_of`
        unless it is None); raises RuntimeError naming the address if that is taken."""
        limit = int(settings.max_request_mb * 2**20)
        server = grpc.aio.server(
            interceptors=[ApiKeyInterceptor(role_of)] if role_of is not None else None,
            # One process per port: with SO_REUSEPORT a second server would silently share it.
            options=[("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)],
        )
        metrics = GrpcMetrics(registry)
        server.add_generic_rpc_handlers([oip.InferenceService(serving).handler(metrics)])
        server.add_generic_rpc_handlers(TfServingService(serving).handlers(metrics))
        checks = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checks, server)
        pool = messages.describe(service_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR)
        reflection.enable_server_reflection(SERVICES, server, pool=pool)
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        try:
            server.add_insecure_port(address)
        except RuntimeError as exc:
            metrics.close()
            raise RuntimeError(f"gRPC cannot listen on {address} (MAAS_GRPC_HOST, MAAS_GRPC_PORT): {exc}") from exc
        await server.start()
        log.info("gRPC listening on %s", address)
        return cls(server, checks, metrics)

    async def stop(self) -> None:
        """Drain: NOT_SERVING, refuse new calls, let those in flight finish (up to GRACE_S)."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(GRACE_S)
        self.metrics.close()


async def start_grpc(
    settings: Settings, serving: Serving, registry: CollectorRegistry, role_of: RoleOf | None
) -> GrpcServer | None:
    """The app's gRPC server, listening; None when MAAS_GRPC_PORT is 0 (gRPC off)."""
    if settings.grpc_port == 0:
        return None
    return await GrpcServer.start(settings, serving, registry, role_of)
