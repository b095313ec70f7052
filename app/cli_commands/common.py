"""What every client command shares: the `--url` / `--api-key` / `--json` options, one client per command, and
the mapping from errors to exit codes and readable messages.

Exit codes: 0 ok · 1 the job (or sweep) failed or was cancelled · 2 usage or invalid input (including 400/409/413/422
answers) · 3 not found · 4 connection or server error (5xx, 429) · 5 missing or refused API key (401/403).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.console import Console, RenderableType
from rich.markup import escape

from app.client import MaasClient, MaasConnectionError, MaasError, load_spec
from app.client.base import DEFAULT_URL

T = TypeVar("T")

OK, JOB_FAILED, INVALID, NOT_FOUND, UNAVAILABLE, UNAUTHORIZED = 0, 1, 2, 3, 4, 5

UrlOpt = Annotated[str, typer.Option("--url", envvar="MAAS_URL", help="The maas server.", show_default=True)]
ApiKeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="MAAS_API_KEY", help="API key, sent as a Bearer token.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
DEFAULT = DEFAULT_URL

# Piped output has no terminal width to fit: tables get room instead of truncated ids (COLUMNS still wins).
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
out = Console(highlight=False, soft_wrap=True, width=_PIPED_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def exit_code_for(error: MaasError) -> int:
    if isinstance(error, MaasConnectionError) or error.status is None:
        return UNAVAILABLE
    if error.status == 404:
        return NOT_FOUND
    if error.status in (401, 403):
        return UNAUTHORIZED
    if error.status >= 500 or error.status == 429:
        return UNAVAILABLE
    return INVALID


def describe(error: MaasError) -> str:
    """The problem's detail, then each field error on its own line (`loc: msg`)."""
    lines = [f"{error.title or 'Error'}: {error.detail}" if error.status else error.detail]
    for item in error.errors:
        loc = ".".join(str(part) for part in item.get("loc", []))
        lines.append(f"  {loc or 'body'}: {item.get('msg', '')}")
    if error.status == 401:
        lines.append("  pass --api-key or set MAAS_API_KEY")
    return "\n".join(lines)


@contextmanager
def connect(url: str, api_key: str | None) -> Iterator[MaasClient]:
    """A client for one command; its errors end the command with a message on stderr and their exit code."""
    try:
        with MaasClient(url, api_key) as client:
            yield client
    except MaasError as error:
        err.print(f"[red]error[/red] {escape(describe(error))}")
        raise typer.Exit(exit_code_for(error)) from None


def fail(message: str, code: int = INVALID) -> typer.Exit:
    """Print `message` on stderr; return the Exit for the caller to raise."""
    err.print(f"[red]error[/red] {escape(message)}")
    return typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def emit(as_json: bool, data: T, render: Callable[[T], RenderableType]) -> None:
    """`data` as JSON for scripts, or `render(data)` (a table) for people; nothing is rendered for `--json`."""
    if as_json:
        print_json(data)
    else:
        out.print(render(data))


def announce(created: dict[str, Any], noun: str, verb: str, follow_command: str, follow: bool, as_json: bool) -> bool:
    """Say what a `train` or `sweep` command submitted; True when the caller is to follow it live now."""
    name = f"{noun} {created['id']} ({created['model_name']})"
    if follow:
        if not as_json:
            out.print(name, markup=False)
        return True
    if as_json:
        print_json(created)
    else:
        out.print(f"{verb} {name}; watch it with: {follow_command} {created['id']}", markup=False)
    return False


def short_time(value: str | None) -> str:
    """`2025-01-02T03:04:05.678+00:00` -> `2025-01-02 03:04:05`."""
    return value.replace("T", " ")[:19] if value else "-"


def format_metrics(metrics: dict[str, Any] | None, limit: int = 6) -> str:
    if not metrics:
        return "-"
    parts = [
        f"{name} {value:.4g}" if isinstance(value, int | float) else f"{name} {value}"
        for name, value in metrics.items()
    ]
    return "  ".join(parts[:limit])


def read_spec(path: Path, what: str) -> dict[str, Any]:
    """A spec file's content, or exit INVALID saying why it cannot be read."""
    try:
        return load_spec(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise fail(f"cannot read the {what} {path}: {exc}", INVALID) from None
