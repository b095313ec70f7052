"""`--follow`'s display of a job's event stream: on a terminal, a rich progress bar per phase (each CV fold,
then the final model) with the latest metrics; piped, one plain line per event, so logs stay readable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from app.cli_commands.common import format_metrics
from app.client import Event


def phase_name(data: dict[str, Any]) -> str:
    """`fold 2/5` for a cross-validation fold, `final` for the model that gets published."""
    return f"fold {data['fold']}/{data['folds']}" if data.get("fold") else "final" if data.get("folds") else "train"


def rate(data: dict[str, Any]) -> str:
    """`  41,233 samples/s` where the event knows the epoch's speed (the latest epoch's), else nothing."""
    value = data.get("samples_per_second")
    return f"  {value:,.0f} samples/s" if value else ""


def status_line(data: dict[str, Any]) -> str:
    status = data["status"]
    if status == "succeeded" and data.get("model"):
        return f"succeeded: published {data['model']['name']} v{data['model']['version']}"
    if data.get("error"):
        return f"{status}: {data['error']['type']}: {data['error']['message']}"
    return status


class Follower:
    """Shows events as they come; `last_status` is the job's status after the last event shown."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last_status: dict[str, Any] | None = None
        self._bars: dict[str, TaskID] = {}
        self._progress = Progress(
            TextColumn("{task.description:>10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            transient=False,
        )

    def show(self, events: Iterable[Event]) -> dict[str, Any] | None:
        """Consume the stream; returns the final status event's data (None if the stream ended without one)."""
        live = self.console.is_terminal
        if live:
            self._progress.start()
        try:
            for event in events:
                self._show(event, live)
        finally:
            if live:
                self._progress.stop()
        return self.last_status

    def _show(self, event: Event, live: bool) -> None:
        data = event.data
        if event.event == "status":
            self.last_status = data
            for bar in self._bars.values():
                self._progress.stop_task(bar)
            if live:
                self.console.print(f"[bold]{escape(status_line(data))}[/bold]")
            else:
                self.console.print(status_line(data), markup=False)
        elif event.event == "progress" and live:
            self._advance(data)
        elif event.event == "progress":
            epoch = f"epoch {data['epoch']}/{data['epochs']}"
            line = f"{phase_name(data)}  {epoch}  {format_metrics(data['metrics'])}{rate(data)}"
            self.console.print(line, markup=False)

    def _advance(self, data: dict[str, Any]) -> None:
        name = phase_name(data)
        if name not in self._bars:
            for earlier in self._bars.values():  # a phase stopped early must not keep its clock running
                self._progress.stop_task(earlier)
            self._bars[name] = self._progress.add_task(name, total=data["epochs"], metrics="")
        metrics = format_metrics(data["metrics"], 4) + rate(data)
        self._progress.update(self._bars[name], completed=data["epoch"], total=data["epochs"], metrics=metrics)
