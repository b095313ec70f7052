"""The client side of the `maas` command: train, jobs, cancel, models, predict, datasets, sweep, sweeps (on
`app.client`).

Each module holds one resource's commands; `register` adds them all to the CLI next to `serve` and `worker`.
"""

from __future__ import annotations

import typer

from app.cli_commands import datasets, jobs, lifecycle, models, predict, sweeps, train


def register(cli: typer.Typer) -> None:
    cli.command()(train.train)
    cli.add_typer(jobs.app, name="jobs")
    cli.command()(jobs.cancel)
    cli.add_typer(models.app, name="models")
    cli.command()(predict.predict)
    cli.add_typer(datasets.app, name="datasets")
    cli.command()(sweeps.sweep)
    cli.add_typer(sweeps.app, name="sweeps")
    cli.command()(lifecycle.evaluate)
    cli.command(name="batch-predict")(lifecycle.batch_predict)
