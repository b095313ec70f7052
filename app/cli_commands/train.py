"""`maas train SPEC [--follow]` and `maas jobs follow ID`: submit a spec, watch its job live."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli_commands.common import (
    DEFAULT,
    JOB_FAILED,
    ApiKeyOpt,
    JsonOpt,
    UrlOpt,
    announce,
    connect,
    err,
    format_metrics,
    out,
    read_spec,
)
from app.cli_commands.progress import Follower
from app.client import MaasClient

FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Watch the job live until it ends.")]


def train(
    spec: Annotated[Path, typer.Argument(help="Training spec, a .json or .yaml file.", show_default=False)],
    follow: FollowOpt = False,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Submit a training spec; with --follow, show each epoch live and end with the published version."""
    body = read_spec(spec, "spec")
    with connect(url, api_key) as client:
        job = client.train(body)
        if not announce(job, "job", "queued", "maas jobs follow", follow, as_json):
            return
        code = follow_job(client, job["id"], as_json)
    raise typer.Exit(code)


def follow_job(client: MaasClient, job_id: str, as_json: bool) -> int:
    """Show the job's events until it ends; the exit code says whether it succeeded. Ctrl-C stops watching
    (130), not the job."""
    try:
        return _follow(client, job_id, as_json)
    except KeyboardInterrupt:
        err.print(f"stopped watching; the job goes on (maas jobs follow {job_id}, or maas cancel {job_id})")
        return 130


def _follow(client: MaasClient, job_id: str, as_json: bool) -> int:
    if as_json:  # one JSON object per line, for scripts
        last = None
        for event in client.follow(job_id):
            sys.stdout.write(json.dumps({"id": event.id, "event": event.event, "data": event.data}) + "\n")
            sys.stdout.flush()
            last = event.data if event.event == "status" else last
    else:
        last = Follower(out).show(client.follow(job_id))
        if last and last["status"] == "succeeded":
            final = client.get_job(job_id)["metrics"]["final"]
            out.print(f"final metrics: {format_metrics(final, 10)}", markup=False)
    return 0 if last and last["status"] == "succeeded" else JOB_FAILED
