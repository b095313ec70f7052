"""`maas models [show NAME | alias NAME ALIAS VERSION]`: the registry's models, versions and aliases."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

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

app = typer.Typer(
    help="List models; `show` one's versions; point an `alias` at a version.", invoke_without_command=True
)

Name = Annotated[str, typer.Argument(help="Model name.", show_default=False)]


@app.callback()
def models(ctx: typer.Context, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """Models with their latest version and aliases."""
    if ctx.invoked_subcommand is not None:
        return
    with connect(url, api_key) as client:
        rows = client.list_models()
    emit(as_json, rows, _models_table)


def _models_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("name", "latest", "versions", "aliases")
    for model in rows:
        aliases = ", ".join(f"{alias} -> v{version}" for alias, version in sorted(model["aliases"].items()))
        table.add_row(model["name"], str(model["latest_version"] or "-"), str(model["versions"]), aliases or "-")
    return table


@app.command("show")
def show(name: Name, as_json: JsonOpt = False, url: UrlOpt = DEFAULT, api_key: ApiKeyOpt = None) -> None:
    """A model's versions with their metrics and aliases."""
    with connect(url, api_key) as client:
        model = client.get_model(name)
    emit(as_json, model, _versions_table)


def _versions_table(model: dict[str, Any]) -> Table:
    by_version: dict[int, list[str]] = {}
    for alias, version in model["aliases"].items():
        by_version.setdefault(version, []).append(alias)
    table = Table("version", "created", "task", "input", "metrics", "aliases", title=model["name"])
    for item in model["versions"]:
        table.add_row(
            str(item["version"]),
            short_time(item["created_at"]),
            item["task"],
            str(item["input_shape"]),
            format_metrics(item.get("metrics"), 4),
            ", ".join(sorted(by_version.get(item["version"], []))) or "-",
        )
    return table


@app.command("alias")
def alias(
    name: Name,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. production", show_default=False)],
    version: Annotated[int | None, typer.Argument(help="Version to point at.", show_default=False)] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead.")] = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Point ALIAS at VERSION (or remove it with --delete)."""
    if (version is None) != delete:
        raise typer.BadParameter("give a VERSION, or --delete")
    with connect(url, api_key) as client:
        aliases = client.delete_alias(name, alias_name) if delete else client.set_alias(name, alias_name, version)
    shown = ", ".join(f"{key} -> v{value}" for key, value in sorted(aliases.items())) or "none"
    out.print(f"{name} aliases: {shown}", markup=False)
