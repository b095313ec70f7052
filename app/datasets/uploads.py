"""An uploaded file into a Dataset: the format from the file name's extension, then that format's reader.

Compressed formats (Parquet, NPZ) may expand to at most `EXPANSION` times the upload limit, so the limit bounds
the memory a parse takes and not only the bytes on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from app.datasets.checks import rejected
from app.datasets.npz import npz_dataset
from app.datasets.tables import read_table, table_dataset
from app.datasets.types import Dataset, Task
from app.errors import InvalidUpload

Format = Literal["csv", "parquet", "npz"]
FORMATS: tuple[Format, ...] = get_args(Format)
EXPANSION = 16


@dataclass(frozen=True)
class ParsedUpload:
    dataset: Dataset
    features: list[str] | None  # feature column names of a table, in model input order; None for arrays


def upload_format(filename: str) -> Format:
    """`csv`, `parquet` or `npz` from the extension (any case); 422 for anything else."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in FORMATS:
        return cast(Format, suffix)
    expected = ", ".join(f".{f}" for f in FORMATS)
    raise rejected(f"cannot tell the format of {filename!r}: the file name must end in {expected}")


def parse_upload(
    path: Path, fmt: Format, name: str, target: str | None, task: Task | None, max_upload_bytes: int
) -> ParsedUpload:
    """Read and check the file at `path`; InvalidUpload (422) naming what is wrong and where."""
    if path.stat().st_size == 0:
        raise rejected("the uploaded file is empty")
    max_bytes = EXPANSION * max_upload_bytes
    if fmt == "npz":
        if target:
            msg = "form field 'target' applies to .csv and .parquet; an .npz holds its targets in array 'y'"
            raise InvalidUpload(msg, errors=[{"loc": ["target"], "msg": msg}])
        return ParsedUpload(npz_dataset(path, name, task, max_bytes), None)
    dataset, features = table_dataset(read_table(path, fmt, max_bytes), name, target, task)
    return ParsedUpload(dataset, features)
