"""Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import MetricsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def read_metrics(metrics: MetricsDep) -> Response:
    """Requests and latency per route and model, batching, loaded models and jobs by status (Prometheus text)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
