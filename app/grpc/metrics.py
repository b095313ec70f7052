"""Prometheus metrics of gRPC calls, in the app's own registry (next to the HTTP ones): calls by method, model and
status code, and their latency by method and model.

Label values are bounded: methods are those maas implements, codes gRPC's, and models only names the registry
has confirmed (see `calls.Note`).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.serving.metrics import LATENCY


class GrpcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.requests = Counter(
            "maas_grpc_requests",
            "gRPC calls by method, model and status code",
            ["method", "model", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "maas_grpc_request_duration_seconds",
            "gRPC call latency",
            ["method", "model"],
            buckets=LATENCY,
            registry=registry,
        )

    def observe(self, method: str, model: str, code: str, seconds: float) -> None:
        key = (method, model, code)
        children = self._children.get(key)
        if children is None:  # `labels()` takes a lock and builds a key each time: look each series up once
            children = self._children[key] = (
                self.requests.labels(method, model, code),
                self.latency.labels(method, model),
            )
        children[0].inc()
        children[1].observe(seconds)

    def close(self) -> None:
        """Take these series out of the registry (an app started again registers them anew)."""
        self.registry.unregister(self.requests)
        self.registry.unregister(self.latency)
