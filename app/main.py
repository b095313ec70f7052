"""The application factory: `create_app(settings)` wires the store, registry, predictor and workers.

`uvicorn app.main:app` uses the module-level `app`, built from `MAAS_*` variables; nothing heavy runs until the
lifespan starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import problems
from app.api.routes import health, jobs, models, predict
from app.jobs.store import JobStore
from app.registry import LocalRegistry
from app.serving.predictor import Predictor
from app.settings import Settings, get_settings
from app.worker.supervisor import Supervisor

log = logging.getLogger("maas")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.resolved_database_url)
    registry = LocalRegistry(settings.resolved_registry_dir)
    app.state.store = store
    app.state.registry = registry
    app.state.predictor = Predictor(registry, settings.model_cache)
    app.state.supervisor = None
    if settings.workers > 0:
        app.state.supervisor = Supervisor(settings, store)
        app.state.supervisor.start_in_thread()
    log.info("maas %s ready: data in %s, %d worker slot(s)", __version__, settings.data_dir, settings.workers)
    try:
        yield
    finally:
        if app.state.supervisor is not None:
            app.state.supervisor.stop()
        store.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="maas",
        version=__version__,
        summary="Keras model-as-a-service: train neural networks over HTTP and serve their predictions.",
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    problems.install(app)
    for module in (health, jobs, models, predict):
        app.include_router(module.router)
    return app


app = create_app()
