"""`maas predict MODEL --input FILE`: predictions of a model version from a .json, .csv or .npy file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from app.cli_commands.common import DEFAULT, INVALID, ApiKeyOpt, JsonOpt, UrlOpt, connect, fail, out, print_json
from app.cli_commands.inputs import read_instances
from app.client import Prediction


def predict(
    model: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    input_file: Annotated[
        Path, typer.Option("--input", "-i", help="Instances: .json, .csv or .npy.", show_default=False)
    ],
    version: Annotated[int | None, typer.Option(help="A version (default: the latest).")] = None,
    alias: Annotated[str | None, typer.Option(help="An alias, e.g. production.")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT,
    api_key: ApiKeyOpt = None,
) -> None:
    """Predict with a model's latest version, a --version or an --alias."""
    if version is not None and alias is not None:
        raise fail("give --version or --alias, not both")
    try:
        instances = read_instances(input_file)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {input_file}: {exc}", INVALID) from None
    with connect(url, api_key) as client:
        result = client.predict(model, instances, version=version, alias=alias)
    if as_json:
        body = {"model": result.model, "version": result.version, "predictions": result.predictions.tolist()}
        print_json(body | ({"classes": result.classes} if result.classes is not None else {}))
    else:
        out.print(prediction_table(result))


def prediction_table(result: Prediction) -> Table:
    """One row per instance: the class and its score for classifiers, the outputs otherwise."""
    table = Table(title=f"{result.model} v{result.version}")
    table.add_column("#", justify="right")
    outputs = result.predictions.reshape(len(result.predictions), -1)
    if result.classes is not None:
        table.add_column("class")
        table.add_column("score", justify="right")
        for index, (label, row) in enumerate(zip(result.classes, outputs, strict=True)):
            score = float(row.max()) if row.size > 1 else float(row[0])
            table.add_row(str(index), label, f"{score:.3f}")
    else:
        table.add_column("prediction")
        for index, row in enumerate(outputs):
            table.add_row(str(index), ", ".join(f"{value:.4g}" for value in np.asarray(row)[:8]))
    return table
