"""The `maas` command: `maas serve` (API plus embedded workers), `maas worker` (workers alone), and the client
commands registered from `app.cli_commands` (train, jobs, cancel, models, predict, datasets, sweep, sweeps)."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from app.cli_commands import register
from app.settings import Settings, get_settings

cli = typer.Typer(help="maas: train Keras models over HTTP and serve their predictions.", no_args_is_help=True)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (MAAS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (MAAS_PORT).")] = None,
) -> None:
    """Start the API with an embedded worker supervisor (MAAS_WORKERS slots; 0 = API only)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    _configure_logging(settings)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler it found; a no-op
    # handler here makes that a clean exit (status 0) instead of death by signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


@cli.command()
def worker(
    burst: Annotated[bool, typer.Option("--burst", help="Run what is queued, then exit.")] = False,
) -> None:
    """Run job workers alone, against MAAS_DATABASE_URL and the registry (MAAS_WORKERS slots, at least 1)."""
    from app.jobs.store import JobStore
    from app.sweeps.store import SweepStore
    from app.worker.staging import sweep_stale_staging
    from app.worker.supervisor import Supervisor

    settings = get_settings()
    _configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(settings)  # what a crash or cancel left of a publish or upload
    store = JobStore(settings.resolved_database_url)
    supervisor = Supervisor(settings, store, SweepStore(store.engine))

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("maas.worker").info("signal %d: stopping", signum)
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        supervisor.run(burst=burst)
    finally:
        supervisor.stop()
        store.close()


register(cli)


def main() -> None:
    cli()
