"""How a sweep reads in a terminal: its trials as a table (one column per searched parameter, the best trial
starred), a one-line status, and the closing lines that name the best trial and the published version."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from app.cli_commands.common import short_time

Json = dict[str, Any]

SWEEP_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}
STATE_STYLE = {
    "complete": "green",
    "pruned": "yellow",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "dim",
}


def trial_state(trial: Json) -> str:
    """What became of a trial, in one word. Optuna's state says how a trial ended; while Optuna still holds it
    open, its job's status says whether it has started (a trial being created has no job yet), and a cancelled
    sweep leaves its open trials `running` in Optuna while their jobs are cancelled."""
    if trial["state"] == "running":
        status = trial["job_status"] or "queued"
        return "complete" if status == "succeeded" else status
    return "failed" if trial["state"] == "fail" else trial["state"]


def value_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def params_text(params: Json) -> str:
    return "  ".join(f"{path}={value_text(value)}" for path, value in params.items())


def metric(sweep: Json) -> str:
    return sweep["spec"]["objective"]["metric"]


def ended(sweep: Json) -> int:
    return sum(trial_state(t) not in ("queued", "running") for t in sweep["trials"])


def trials_table(sweep: Json, job_ids: bool = False) -> Table:
    """Every trial so far: number, state, the value of each searched parameter, objective, epochs run."""
    paths = list(sweep["spec"]["search_space"])
    best = sweep["best"]["number"] if sweep.get("best") else None
    table = Table(title=f"{sweep['model_name']}: {ended(sweep)}/{sweep['spec']['trials']} trials ended")
    table.add_column("#", justify="right")
    table.add_column("state")
    for path in paths:
        table.add_column(path, justify="right")
    table.add_column(metric(sweep), justify="right")
    table.add_column("epochs", justify="right")
    if job_ids:
        table.add_column("job", no_wrap=True)
    for trial in sweep["trials"]:
        state = trial_state(trial)
        cells = [
            f"* {trial['number']}" if trial["number"] == best else str(trial["number"]),
            f"[{STATE_STYLE.get(state, '')}]{state}[/]",
            *(value_text(trial["params"].get(path)) for path in paths),
            value_text(trial["objective"]),
            value_text(trial["epochs"]),
        ]
        table.add_row(
            *cells, *([trial["job_id"] or "-"] if job_ids else []), style="bold" if trial["number"] == best else ""
        )
    return table


def status_text(sweep: Json) -> str:
    """`running: 2/4 trials ended, best val_accuracy 0.9444 (trial 1)`."""
    text = f"{sweep['status']}: {ended(sweep)}/{sweep['spec']['trials']} trials ended"
    if sweep.get("best"):
        text += f", best {metric(sweep)} {value_text(sweep['best']['objective'])} (trial {sweep['best']['number']})"
    return text


def best_text(sweep: Json) -> str:
    """`trial 2: val_accuracy 0.9639  optimizer.learning_rate=0.006811  optimizer.name=adam`."""
    best = sweep["best"]
    return f"trial {best['number']}: {metric(sweep)} {value_text(best['objective'])}  {params_text(best['params'])}"


def closing_lines(sweep: Json) -> list[str]:
    """The best trial and the published version; or why there is none."""
    lines = []
    if sweep.get("best"):
        lines.append(f"best {best_text(sweep)}")
    if model := sweep.get("model"):
        alias = sweep["spec"].get("alias")
        lines.append(f"published {model['name']} v{model['version']}" + (f" (alias {alias})" if alias else ""))
    elif error := sweep.get("error"):
        lines.append(f"sweep {sweep['status']}: {error['type']}: {error['message']}")
    else:
        lines.append(f"sweep {sweep['status']}: nothing published")
    return lines


def sweep_summary(state: Json) -> Table:
    """What the sweep searched and how, the best trial, parameter importances and the published version."""
    spec, model = state["spec"], state.get("model")
    importances = state.get("importances") or {}
    pruner = spec.get("pruner", {}).get("type", "no")
    rows = [
        ("id", state["id"]),
        ("model", f"{model['name']} v{model['version']}" if model else state["model_name"]),
        ("status", state["status"]),
        ("objective", f"{spec['objective']['direction']} {metric(state)}"),
        (
            "search",
            f"{spec['sampler']} sampler, {pruner} pruner, {spec['trials']} trials, {spec['parallelism']} at a time",
        ),
        ("best", best_text(state) if state.get("best") else "-"),
        ("importances", "  ".join(f"{path} {value:.2f}" for path, value in importances.items()) or "-"),
        ("created", short_time(state["created_at"])),
        ("finished", short_time(state.get("finished_at"))),
    ]
    if spec.get("alias"):
        rows.insert(2, ("alias", spec["alias"]))
    if state.get("error"):
        rows.append(("error", f"{state['error']['type']}: {state['error']['message']}"))
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, Text(value, style=SWEEP_STYLE.get(value, "") if name == "status" else ""))
    return table
