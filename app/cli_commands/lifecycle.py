"""`maas evaluate NAME --version N --dataset D [--follow]` (prints the confusion matrix) and
`maas batch-predict NAME --dataset D --output FILE`: a version measured on a dataset, or scoring a whole one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from app.cli_commands.common import DEFAULT, JOB_FAILED, ApiKeyOpt, JsonOpt, UrlOpt, connect, emit, out, print_json
from app.client import MaasClient

BUILTINS = {"digits", "iris", "wine", "breast_cancer", "diabetes", "mnist"}
DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="A built-in dataset's name or an uploaded id.")]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Wait for the job and show its result.")]


def dataset_ref(value: str) -> dict[str, str]:
    return {"builtin": value} if value in BUILTINS else {"id": value}


def wait_succeeded(client: MaasClient, job_id: str) -> dict[str, Any]:
    """The finished job; a job that failed or was cancelled ends the command with its reason and exit code 1."""
    done = client.wait(job_id)
    if done["status"] != "succeeded":
        out.print(f"job {job_id} {done['status']}: {(done.get('error') or {}).get('message')}", markup=False)
        raise typer.Exit(JOB_FAILED)
    return done


def matrix_lines(evaluation: dict[str, Any]) -> list[str]:
    """The confusion matrix as text: true labels down, predicted across."""
    labels, rows = evaluation["confusion_matrix"]["labels"], evaluation["confusion_matrix"]["matrix"]
    width = max(6, *(len(label) for label in labels), *(len(str(n)) for row in rows for n in row))
    head = "true \\ predicted".ljust(width + 2) + " ".join(label.rjust(width) for label in labels)
    pairs = zip(labels, rows, strict=True)
    body = [label.ljust(width + 2) + " ".join(str(n).rjust(width) for n in row) for label, row in pairs]
    return [head, *body]


def _show(evaluation: dict[str, Any]) -> None:
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in evaluation["metrics"].items() if v is not None)
    out.print(f"{evaluation['model']['name']} v{evaluation['model']['version']}: {metrics}", markup=False)
    if evaluation.get("confusion_matrix"):
        for line in matrix_lines(evaluation):
            out.print(line, markup=False)
    if evaluation.get("roc_auc") is not None:
        out.print(f"ROC AUC {evaluation['roc_auc']:.4f}", markup=False)
    if evaluation.get("regression"):
        out.print(", ".join(f"{k}={v}" for k, v in evaluation["regression"].items()), markup=False)


def evaluate(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Option("--version", "-v", help="Version to evaluate.")],
    dataset: DatasetOpt,
    follow: FollowOpt = False,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Queue an evaluation; with --follow, wait for it and print its metrics and confusion matrix."""
    with connect(url, api_key) as client:
        job = client.evaluate(name, version, dataset_ref(dataset))
        if not follow:
            emit(as_json, job, lambda queued: Text(f"queued evaluation job {queued['id']}"))
            return
        wait_succeeded(client, job["id"])
        [evaluation] = [e for e in client.evaluations(name, version) if e["job_id"] == job["id"]]
        print_json(evaluation) if as_json else _show(evaluation)


def batch_predict(
    name: Annotated[str, typer.Argument(help="Model name.")],
    dataset: DatasetOpt,
    version: Annotated[int | None, typer.Option("--version", "-v", help="Version (default: latest).")] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Alias instead of a version.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Wait, then write the file here.")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Queue scoring every row of a dataset; with --output, wait for it and save the predictions file."""
    body = {"model": name, "version": version, "alias": alias, "dataset": dataset_ref(dataset), "format": fmt}
    with connect(url, api_key) as client:
        job = client.batch_predict({k: v for k, v in body.items() if v is not None})
        if output is None:
            emit(as_json, job, lambda queued: Text(f"queued batch prediction job {queued['id']}"))
            return
        done = wait_succeeded(client, job["id"])
        output.write_bytes(client.job_output(job["id"]))
        out.print(f"{done['progress']['rows']} rows written to {output}", markup=False)
