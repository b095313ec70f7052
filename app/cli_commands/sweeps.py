"""`maas sweep SPEC [--follow]` and `maas sweeps [show|follow|cancel ID]`: start a hyperparameter sweep, watch
its trials, and see which one won and which version it published."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from app.cli_commands.common import (
    DEFAULT,
    JOB_FAILED,
    ApiKeyOpt,
    JsonOpt,
    UrlOpt,
    announce,
    connect,
    emit,
    err,
    out,
    read_spec,
    short_time,
)
from app.cli_commands.sweep_follow import SweepFollower
from app.cli_commands.sweep_view import SWEEP_STYLE, sweep_summary, trials_table
from app.client import MaasClient

app = typer.Typer(help="List sweeps; `show`, `follow` or `cancel` one.", invoke_without_command=True)

SweepId = Annotated[str, typer.Argument(help="The sweep's id.", show_default=False)]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Watch the trials live until the sweep ends.")]
PollOpt = Annotated[float, typer.Option("--poll", help="Seconds between two looks at the sweep.", min=0.1)]


def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec, a .json or .yaml file.", show_default=False)],
    follow: FollowOpt = False,
    poll: PollOpt = 1.0,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Start a sweep; with --follow, show its trials live and end with the best one and the published version."""
    body = read_spec(spec, "sweep spec")
    with connect(url, api_key) as client:
        started = client.create_sweep(body)
        if not announce(started, "sweep", "started", "maas sweeps follow", follow, as_json):
            return
        code = follow_sweep(client, started["id"], as_json, poll)
    raise typer.Exit(code)


def follow_sweep(client: MaasClient, sweep_id: str, as_json: bool, poll_s: float) -> int:
    """Show the sweep until it ends; exit code 0 if it published its best model. Ctrl-C stops watching (130),
    not the sweep."""
    try:
        states = client.watch_sweep(sweep_id, poll_s)
        last = _json_lines(states) if as_json else SweepFollower(out).show(states)
    except KeyboardInterrupt:
        err.print(
            f"stopped watching; the sweep goes on (maas sweeps follow {sweep_id}, or maas sweeps cancel {sweep_id})"
        )
        return 130
    return 0 if last and last["status"] == "succeeded" else JOB_FAILED


def _json_lines(states: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """One JSON object per line each time the sweep changed, for scripts; the last line is its final state."""
    last = None
    for state in states:
        if state != last:
            sys.stdout.write(json.dumps(state, default=str) + "\n")
            sys.stdout.flush()
        last = state
    return last


@app.callback()
def sweeps(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only sweeps in this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Sweeps, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    with connect(url, api_key) as client:
        rows = client.list_sweeps(status=status, limit=limit)
    emit(as_json, rows, _sweeps_table)


def _sweeps_table(rows: list[dict[str, Any]]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("model", "status", "trials", "objective", "version"):
        table.add_column(column)
    table.add_column("created", no_wrap=True)
    for row in rows:
        spec = row["spec"]
        objective = f"{spec['objective']['direction']} {spec['objective']['metric']}"
        table.add_row(
            row["id"],
            row["model_name"],
            f"[{SWEEP_STYLE.get(row['status'], '')}]{row['status']}[/]",
            f"{row['trials_created']}/{spec['trials']}",
            objective,
            f"v{row['model_version']}" if row["model_version"] else "-",
            short_time(row["created_at"]),
        )
    return table


@app.command("show")
def show(sweep_id: SweepId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """One sweep: its settings, every trial (with its job), the best one, importances and the published version."""
    with connect(url, api_key) as client:
        state = client.get_sweep(sweep_id)
    emit(as_json, state, lambda shown: Group(sweep_summary(shown), trials_table(shown, job_ids=True)))


@app.command("follow")
def follow(
    sweep_id: SweepId, poll: PollOpt = 1.0, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None
) -> None:
    """Watch a sweep's trials live until it ends (exit 1 if it fails or is cancelled)."""
    with connect(url, api_key) as client:
        code = follow_sweep(client, sweep_id, as_json, poll)
    raise typer.Exit(code)


@app.command("cancel")
def cancel(sweep_id: SweepId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Stop a sweep: no new trials, its queued and running trials are cancelled (an ended sweep is left as it is)."""
    with connect(url, api_key) as client:
        state = client.cancel_sweep(sweep_id)
    emit(as_json, state, lambda cancelled: Text(f"sweep {cancelled['id']}: {cancelled['status']}"))
