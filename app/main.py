"""The application factory: `create_app(settings)` wires the store, registry, model cache and workers.

`uvicorn app.main:app` uses the module-level `app`, built from `MAAS_*` variables; nothing heavy runs until the
lifespan starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from starlette.middleware.cors import CORSMiddleware

from app import __version__
from app.api import problems
from app.api.auth import ApiKeyMiddleware, ApiKeys
from app.api.fastpath import DirectRoutes, direct_routes
from app.api.hosts import OpenModeGuard
from app.api.limits import BodyLimitMiddleware
from app.api.method_override import MethodOverride
from app.api.protocols import PROTOCOLS
from app.api.routes import (
    batch_predictions,
    datasets,
    evaluations,
    events,
    health,
    jobs,
    metrics,
    models,
    monitoring,
    sweeps,
    tensorboard,
    ui,
    uploads,
    webhooks,
)
from app.api.telemetry import RequestMetrics
from app.grpc.server import start_grpc
from app.jobs.schemas import JobStatus
from app.jobs.store import JobStore
from app.registry import open_registry
from app.serving.batcher import Batcher
from app.serving.inference import Serving
from app.serving.metrics import Metrics
from app.serving.model_cache import ModelCache
from app.serving.payload_log import PayloadLog
from app.settings import Settings, get_settings
from app.sweeps.store import SweepStore
from app.uploads.expiry import Expiry
from app.uploads.headers import REQUEST_HEADERS as TUS_REQUEST_HEADERS
from app.uploads.headers import RESPONSE_HEADERS as TUS_RESPONSE_HEADERS
from app.uploads.storage import open_uploads
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.store import WebhookStore
from app.webhooks.targets import host_names
from app.worker.staging import sweep_stale_staging
from app.worker.supervisor import Supervisor

log = logging.getLogger("maas")

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_MAX_AGE_S = 600  # how long a browser may keep a preflight's answer


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.resolved_database_url)
    registry = open_registry(settings.registry_location, settings.cache_dir)
    app.state.store = store
    app.state.sweeps = SweepStore(store.engine)
    app.state.registry = registry
    app.state.model_cache = ModelCache(registry, settings.model_cache, warm_rows=settings.batch_max_size)
    delay_s = settings.batch_max_delay_ms / 1000
    batcher = Batcher(settings.batch_max_size, delay_s, observe=app.state.metrics.observe_batch)
    serving = app.state.serving = Serving(
        registry,
        app.state.model_cache,
        batcher,
        max_instances=settings.max_instances,
        max_request_bytes=int(settings.max_request_mb * 2**20),
        observe=app.state.metrics.observe_version,
        payloads=_payload_log(settings, app.state.metrics),
    )
    await asyncio.to_thread(sweep_stale_staging, settings)  # what a crash or cancel left of a publish or upload
    expiry = Expiry(settings.upload_expiry_hours)
    await expiry.sweep_now(app.state.uploads)  # what was left unfinished for too long while maas was down
    names = [summary.name for summary in await asyncio.to_thread(registry.list_models)]
    await asyncio.to_thread(app.state.serving.payloads.load_rates, names, registry.read_monitoring)
    app.state.metrics.watch(app.state.model_cache.describe, store.count_by_status, [s.value for s in JobStatus])
    app.state.metrics.label_models(app.state.serving.resolver.has_resolved)
    app.state.metrics.watch_backlog(batcher.backlog)
    role_of = None if settings.api_keys is None else ApiKeys.parse(settings.api_keys.get_secret_value()).role_of
    webhooks = app.state.webhooks = _webhooks(settings, store)
    webhooks.start()
    grpc = app.state.grpc = await start_grpc(settings, app.state.serving, app.state.metrics.registry, role_of)
    supervisor = app.state.supervisor = None
    if settings.workers > 0:
        supervisor = app.state.supervisor = Supervisor(settings, store, app.state.sweeps)
        supervisor.start_in_thread()
    if settings.api_keys is None:
        log.warning("MAAS_API_KEYS is not set: the API is open to anyone who can reach it")
    log.info("maas %s ready: data in %s, %d worker slot(s)", __version__, settings.data_dir, settings.workers)
    sweeper = asyncio.create_task(expiry.sweep_periodically(app.state.uploads)) if expiry.on else None
    try:
        yield
    finally:  # what this run of the lifespan started: app.state may since hold another run's (a second client)
        if sweeper is not None:
            sweeper.cancel()
        if grpc is not None:  # drained first: its calls in flight still need the batcher
            await grpc.stop()
        if supervisor is not None:
            supervisor.stop()
        await webhooks.stop()
        await serving.close()
        store.close()


def _payload_log(settings: Settings, metrics: Metrics) -> PayloadLog:
    return PayloadLog(
        settings.data_dir.resolve() / "payloads",
        max_queued=settings.payload_queue,
        batch_rows=settings.payload_batch_rows,
        flush_s=settings.payload_flush_s,
        on_drop=metrics.payloads_dropped.inc,
    )


def _webhooks(settings: Settings, store: JobStore) -> Dispatcher:
    return Dispatcher(
        WebhookStore(store.engine),
        allowed_hosts=host_names(settings.webhook_hosts),
        retry_hours=settings.webhook_retry_hours,
        backoff_s=settings.webhook_backoff_s,
        poll_s=settings.webhook_poll_s,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        telemetry=_native_telemetry(),
        title="maas",
        version=__version__,
        summary="Keras model-as-a-service: train neural networks over HTTP and serve their predictions.",
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    problems.install(app)
    app.state.metrics = Metrics()
    app.state.uploads = open_uploads(app.state.settings.datasets_location)  # keeps running hashes across PATCHes
    app.add_middleware(DirectRoutes, routes=direct_routes(PROTOCOLS))
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    for module in (health, datasets, jobs, sweeps, events, tensorboard, models, monitoring, webhooks, metrics):
        app.include_router(module.router)
    for module in (evaluations, batch_predictions, uploads):
        app.include_router(module.router)
    for protocol in PROTOCOLS:
        app.include_router(protocol.router)
    ui.install(app)
    _protect(app, app.state.settings)
    app.add_middleware(MethodOverride)  # every layer within sees the method a tus client means
    _allow_origins(app, app.state.settings)
    return app


def _native_telemetry() -> TelemetryConfig | None:
    """FastAPI's own OpenTelemetry hook asks OpenTelemetry on every request whether a provider has been set up
    (3.6 us, about 2% of a prediction's time in maas). Decide once instead: keep it when a tracer provider is
    configured as the app is created (e.g. under `opentelemetry-instrument`), else turn it off; maas' own
    metrics are Prometheus' (/metrics) either way."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return {"tracing": False, "metrics": False, "logs": False}
    return None


def _allow_origins(app: FastAPI, settings: Settings) -> None:
    """CORS for the web pages of MAAS_CORS_ORIGINS (browser tus clients: Uppy, tus-js-client), outermost: a
    preflight carries no API key and is answered here, and every answer, a refusal by the layers within included,
    names the origin so that the page may read it. Unset: no CORS headers at all, so no page elsewhere reads an
    answer. Cookies are never used (an API key is a header), so credentials are not allowed."""
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=CORS_METHODS,
            allow_headers=("Authorization", "X-API-Key", "Content-Type", "X-Request-ID", *TUS_REQUEST_HEADERS),
            expose_headers=TUS_RESPONSE_HEADERS,
            max_age=CORS_MAX_AGE_S,
        )


def _protect(app: FastAPI, settings: Settings) -> None:
    """Body-size cap, then API keys outermost: an unauthenticated request is refused before its body is read.
    Without keys, the open-mode guard is outermost instead: no foreign Host, no form bodies from web pages."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=int(settings.max_request_mb * 2**20))
    if settings.api_keys is not None:
        app.add_middleware(ApiKeyMiddleware, keys=ApiKeys.parse(settings.api_keys.get_secret_value()))
    else:
        app.add_middleware(OpenModeGuard, allowed_hosts=settings.allowed_host_names)


app = create_app()
