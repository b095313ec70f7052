"""`--follow`'s display of a sweep, fed by polling it: on a terminal, a live table of its trials redrawn after
every poll; piped, one plain line each time a trial changes state and the final table, so logs stay readable.
Either way it ends with the best trial and the published version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from app.cli_commands.sweep_view import closing_lines, metric, params_text, status_text, trial_state, trials_table

Json = dict[str, Any]


class SweepFollower:
    """Shows each polled state of a sweep; `show` returns the last one (the final one unless interrupted)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._shown: dict[int, tuple[str, bool]] = {}

    def show(self, states: Iterable[Json]) -> Json | None:
        last = self._live(states) if self.console.is_terminal else self._plain(states)
        if last is not None:
            for line in closing_lines(last):
                self.console.print(line, markup=False)
        return last

    def _live(self, states: Iterable[Json]) -> Json | None:
        last = None
        with Live(console=self.console, auto_refresh=False, transient=False) as live:
            for last in states:
                live.update(Group(Text(status_text(last), style="bold"), trials_table(last)), refresh=True)
        return last

    def _plain(self, states: Iterable[Json]) -> Json | None:
        last = None
        for last in states:
            for trial in last["trials"]:
                self._trial_line(last, trial)
        if last is not None:
            self.console.print(trials_table(last))
        return last

    def _trial_line(self, sweep: Json, trial: Json) -> None:
        """A line when a trial appears, when its state changes and when its objective becomes known (its job can
        have succeeded a moment before Optuna is told the objective)."""
        state = trial_state(trial)
        seen = (state, trial["objective"] is not None)
        if trial["job_id"] is None or self._shown.get(trial["number"]) == seen:
            return  # (a trial without its job yet is still being created: some of its parameters are not chosen)
        self._shown[trial["number"]] = seen
        if trial["objective"] is None:
            detail = params_text(trial["params"])
        else:
            detail = f"{metric(sweep)} {trial['objective']:.4g} after {trial['epochs']} epochs"
        self.console.print(f"trial {trial['number']}  {state}  {detail}", markup=False)
