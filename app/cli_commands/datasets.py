"""`maas datasets [upload FILE --target COL | show ID | delete ID]`: uploaded data to train on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli_commands.common import DEFAULT, ApiKeyOpt, JsonOpt, UrlOpt, connect, emit, fail, out, short_time
from app.datasets.formats import EXTENSIONS, TABLE_EXTENSIONS, phrase

app = typer.Typer(help="List uploaded datasets; `upload`, `show` or `delete` one.", invoke_without_command=True)

DatasetId = Annotated[str, typer.Argument(help="The dataset's id.", show_default=False)]


def dataset_table(rows: list[dict]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)
    for column in ("name", "format", "rows", "features", "task", "classes"):
        table.add_column(column)
    table.add_column("created", no_wrap=True)
    for item in rows:
        classes = item.get("classes")
        shown = "-" if classes is None else ", ".join(classes[:5]) + (" ..." if len(classes) > 5 else "")
        table.add_row(
            item["id"],
            item["name"],
            item["format"],
            str(item["rows"]),
            str(item["feature_shape"]),
            item["task"],
            shown,
            short_time(item["created_at"]),
        )
    return table


@app.callback()
def datasets(ctx: typer.Context, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Uploaded datasets, newest first (built-ins such as `iris` need no upload)."""
    if ctx.invoked_subcommand is not None:
        return
    with connect(url, api_key) as client:
        rows = client.list_datasets()
    emit(as_json, rows, dataset_table)


@app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(help=f"{phrase(EXTENSIONS)} file.", show_default=False)],
    target: Annotated[str | None, typer.Option(help=f"The label column of a {phrase(TABLE_EXTENSIONS)} file.")] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: from the file name).")] = None,
    task: Annotated[str | None, typer.Option(help="classification or regression (default: inferred).")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Upload a file as a dataset; prints its id, to train on with {"dataset": {"id": ID}}."""
    if not file.is_file():
        raise fail(f"no such file: {file}")
    with connect(url, api_key) as client:
        info = client.upload_dataset(file, target=target, name=name, task=task)
    emit(as_json, info, lambda one: dataset_table([one]))


@app.command("show")
def show(dataset_id: DatasetId, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """One dataset."""
    with connect(url, api_key) as client:
        info = client.get_dataset(dataset_id)
    emit(as_json, info, lambda one: dataset_table([one]))


@app.command("delete")
def delete(dataset_id: DatasetId, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Delete a dataset (refused while a queued or running job uses it)."""
    with connect(url, api_key) as client:
        client.delete_dataset(dataset_id)
    out.print(f"deleted dataset {dataset_id}", markup=False)
