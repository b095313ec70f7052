"""`maas jobs [show|follow|tensorboard]` and `maas cancel`: what the job queue holds and what became of it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from app.cli_commands.common import (
    DEFAULT,
    ApiKeyOpt,
    JsonOpt,
    UrlOpt,
    connect,
    emit,
    format_metrics,
    out,
    short_time,
)
from app.cli_commands.train import follow_job

app = typer.Typer(help="List jobs; `show`, `follow` or fetch the TensorBoard logs of one.", invoke_without_command=True)

JobId = Annotated[str, typer.Argument(help="The job's id.", show_default=False)]
STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan", "queued": "dim"}


def progress_text(job: dict[str, Any]) -> str:
    progress = job["progress"]
    text = f"{progress['epoch']}/{progress['epochs']}"
    if progress.get("fold"):
        text += f" (fold {progress['fold']}/{progress['folds']})"
    return text


@app.callback()
def jobs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    model: Annotated[str | None, typer.Option(help="Only jobs of this model name.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Jobs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    with connect(url, api_key) as client:
        rows = client.list_jobs(status=status, model_name=model, limit=limit)
    emit(as_json, rows, _jobs_table)


def _jobs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("model", "status", "epochs", "version"):
        table.add_column(column)
    table.add_column("created", no_wrap=True)
    for job in rows:
        style = STATUS_STYLE.get(job["status"], "")
        version = str(job["model"]["version"]) if job.get("model") else "-"
        status_text = f"[{style}]{job['status']}[/]"
        table.add_row(
            job["id"], job["model_name"], status_text, progress_text(job), version, short_time(job["created_at"])
        )
    return table


@app.command("show")
def show(job_id: JobId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """One job: status, progress, final metrics, published version or error."""
    with connect(url, api_key) as client:
        job = client.get_job(job_id)
    emit(as_json, job, _job_grid)


def _job_grid(job: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    model = job.get("model")
    rows = [
        ("id", job["id"]),
        ("model", f"{model['name']} v{model['version']}" if model else job["model_name"]),
        ("status", job["status"]),
        ("progress", progress_text(job)),
        ("created", short_time(job["created_at"])),
        ("started", short_time(job.get("started_at"))),
        ("finished", short_time(job.get("finished_at"))),
        ("final metrics", format_metrics(job["metrics"].get("final"), 12)),
    ]
    if job["metrics"].get("test"):
        rows.append(("test metrics", format_metrics(job["metrics"]["test"], 12)))
    if job.get("error"):
        rows.append(("error", f"{job['error']['type']}: {job['error']['message']}"))
    for name, value in rows:
        table.add_row(name, Text(value))
    return table


@app.command("follow")
def follow(job_id: JobId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Watch a job live until it ends (exit 1 if it fails or is cancelled)."""
    with connect(url, api_key) as client:
        code = follow_job(client, job_id, as_json)
    raise typer.Exit(code)


@app.command("tensorboard")
def tensorboard(
    job_id: JobId,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to unpack the logs into.")] = Path("tensorboard-logs"),
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Download a job's TensorBoard logs and unpack them (then: tensorboard --logdir OUT)."""
    with connect(url, api_key) as client:
        archive = client.tensorboard(job_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(out_dir, filter="data")
    out.print(f"logs in {out_dir / job_id}; open them with: tensorboard --logdir {out_dir}", markup=False)


def cancel(job_id: JobId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Cancel a queued or running job (a finished job is left as it is)."""
    with connect(url, api_key) as client:
        job = client.cancel(job_id)
    emit(as_json, job, lambda cancelled: Text(f"job {cancelled['id']}: {cancelled['status']}"))
