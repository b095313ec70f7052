"""Prometheus metrics of one app: requests and latency per route and model, dynamic batching (rows and requests
per model call, queue delay, call time), loaded models and jobs by status.

Each app owns its own registry (tests build many apps in one process); loaded models and job counts are read
when scraped, so they are never stale and cost nothing between scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.serving.batcher import BatchStats

log = logging.getLogger("maas.metrics")

UNKNOWN_MODEL = "_unknown"  # the one label of every model name that does not exist
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: "other"
LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state: _StateCollector | None = None
        self._backlog: _BacklogCollector | None = None
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
        self._batch_children: dict[Hashable, tuple[Any, ...]] = {}
        self._version_children: dict[Hashable, tuple[Any, Any]] = {}
        self._known_model: Callable[[str], bool] = lambda name: False
        per_route = ["method", "route", "model"]
        per_model = ["model", "version"]
        self.requests = Counter(
            "maas_http_requests",
            "HTTP requests by route, model and status",
            [*per_route, "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "maas_http_request_duration_seconds",
            "HTTP request latency",
            per_route,
            buckets=LATENCY,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "maas_batch_size",
            "Rows per model call (dynamic batching)",
            per_model,
            buckets=SIZES,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "maas_batch_requests",
            "Requests merged into one model call",
            per_model,
            buckets=SIZES,
            registry=self.registry,
        )
        self.queue_delay = Histogram(
            "maas_batch_queue_delay_seconds",
            "How long a batch's oldest request waited for the model call to start",
            per_model,
            buckets=LATENCY,
            registry=self.registry,
        )
        self.version_requests = Counter(
            "maas_version_requests", "Prediction requests served per model version", per_model, registry=self.registry
        )
        self.version_latency = Histogram(
            "maas_version_request_duration_seconds",
            "Time from a request's batch submission to its rows, per model version",
            per_model,
            buckets=LATENCY,
            registry=self.registry,
        )
        self.payloads_dropped = Counter(
            "maas_payload_log_dropped",
            "Sampled payload records dropped because the log's queue was full",
            registry=self.registry,
        )
        self.drift_max_psi = Gauge(
            "maas_drift_max_psi",
            "Largest feature PSI of a version's logged inputs against its training data (the last 24 h)",
            per_model,
            registry=self.registry,
        )
        self.drifted_features = Gauge(
            "maas_drifted_features",
            "Features of a version whose logged inputs drifted from its training data (the last 24 h)",
            per_model,
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "maas_model_call_duration_seconds",
            "Model call time per batch",
            per_model,
            buckets=LATENCY,
            registry=self.registry,
        )

    def observe_drift(self, model: str, version: int, max_psi: float | None, drifted_features: int) -> None:
        """The latest standard drift check of a version; a window with no logged rows has no PSI: no series."""
        labels = (model, str(version))
        if max_psi is None:
            for gauge in (self.drift_max_psi, self.drifted_features):
                try:
                    gauge.remove(*labels)
                except KeyError:
                    pass
            return
        self.drift_max_psi.labels(*labels).set(max_psi)
        self.drifted_features.labels(*labels).set(drifted_features)

    def observe_version(self, key: tuple[str, int], seconds: float) -> None:
        """One prediction request served by a version (canary, shadow or not): its count and model time."""
        children = self._version_children.get(key)
        if children is None:
            labels = (key[0], str(key[1]))
            children = (self.version_requests.labels(*labels), self.version_latency.labels(*labels))
            self._version_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def label_models(self, known: Callable[[str], bool]) -> None:
        """Label requests with a model name only when `known(name)`; others are counted as `_unknown`. Every
        label value is a series kept forever: a client's made-up names and methods must not add any."""
        self._known_model = known

    def observe_request(self, method: str, route: str, model: str, status: int, seconds: float) -> None:
        if model and not self._known_model(model):
            model = UNKNOWN_MODEL
        if method not in METHODS:
            method = "other"
        key = (method, route, model, status)
        children = self._request_children.get(key)
        if children is None:  # `labels()` takes a lock and builds a key each time: look each series up once
            children = (
                self.requests.labels(method, route, model, str(status)),
                self.latency.labels(method, route, model),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, stats: BatchStats) -> None:
        children = self._batch_children.get(stats.key)
        if children is None:
            name, version = stats.key  # type: ignore[misc]
            labels = (str(name), str(version))
            series = (self.batch_rows, self.batch_requests, self.queue_delay, self.call_seconds)
            children = self._batch_children[stats.key] = tuple(metric.labels(*labels) for metric in series)
        rows, requests, delay, call = children
        rows.observe(stats.rows)
        requests.observe(stats.requests)
        delay.observe(stats.queue_delay_s)
        call.observe(stats.call_s)

    def watch(
        self,
        models: Callable[[], list[tuple[str, int, str]]],
        jobs: Callable[[], dict[str, int]],
        statuses: Iterable[str] = (),
    ) -> None:
        """Report loaded models and jobs by status, read at each scrape (again after a restart of the app)."""
        if self._state is not None:
            self.registry.unregister(self._state)
        self._state = _StateCollector(models, jobs, tuple(statuses))
        self.registry.register(self._state)

    def watch_backlog(self, backlog: Callable[[], tuple[int, int]]) -> None:
        """Report the batcher's queue depth (as Triton's pending request count), read at each scrape."""
        if self._backlog is not None:
            self.registry.unregister(self._backlog)
        self._backlog = _BacklogCollector(backlog)
        self.registry.register(self._backlog)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector:
    """Gauges read at scrape time from the model cache and the job store."""

    def __init__(
        self,
        models: Callable[[], list[tuple[str, int, str]]],
        jobs: Callable[[], dict[str, int]],
        statuses: tuple[str, ...],
    ) -> None:
        self._models, self._jobs, self._statuses = models, jobs, statuses

    def collect(self) -> Iterable[GaugeMetricFamily]:
        loaded = self._models()
        yield GaugeMetricFamily("maas_models_loaded", "Model versions loaded in memory", value=len(loaded))
        per_model = GaugeMetricFamily(
            "maas_model_loaded", "A loaded version and its runtime", labels=["model", "version", "runtime"]
        )
        for name, version, runtime in loaded:
            per_model.add_metric([name, str(version), runtime], 1)
        yield per_model
        try:
            counts = dict.fromkeys(self._statuses, 0) | self._jobs()
        except Exception:  # the store is unreachable: /readyz says so; the other metrics still count
            log.warning("job counts unavailable for metrics", exc_info=True)
            return
        by_status = GaugeMetricFamily("maas_jobs", "Jobs by status", labels=["status"])
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], count)
        yield by_status


class _BacklogCollector:
    """Gauges of what the batcher holds: requests still arriving, rows waiting for a model call."""

    def __init__(self, backlog: Callable[[], tuple[int, int]]) -> None:
        self._backlog = backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        receiving, queued = self._backlog()
        yield GaugeMetricFamily(
            "maas_requests_receiving",
            "Prediction requests on their way to a batch (body being received, version being resolved)",
            value=receiving,
        )
        yield GaugeMetricFamily("maas_batch_queued_rows", "Rows queued for a model call, not yet in one", value=queued)
