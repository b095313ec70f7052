"""The upload formats, one entry each in `FORMATS`. Everything that names them is derived from that list: the
record's `format` values, the extensions a 422 lists, the upload form's OpenAPI text and the CLI's help; so adding
a format is writing its reader and adding one entry.

An entry names its reader and its expansion guard as "module:function" rather than importing them, so that the CLI
can describe the formats without loading pandas and pyarrow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.datasets.types import Dataset, Task


@dataclass(frozen=True)
class UploadRequest:
    """What the upload form says about the file: the dataset's name, its label column (tables) and its task."""

    name: str
    target: str | None
    task: Task | None


@dataclass(frozen=True)
class ParsedUpload:
    dataset: Dataset
    features: list[str] | None  # feature column names of a table, in model input order; None for arrays


@dataclass(frozen=True)
class ExpansionGuard:
    """Refuses (413) a compressed file that would take more than `times` the upload limit in memory, judged from
    its header before anything is decompressed: `check(path, max_bytes)` raises TooLarge, or InvalidUpload (422)
    for what the header shows cannot be held safely (a nested Parquet column, an array of Python objects)."""

    check: str
    times: int = 16


@dataclass(frozen=True)
class UploadFormat:
    """One format. `name` is the file name's extension (in any case) and the record's `format`."""

    name: str
    title: str  # how messages and help name the format
    reader: str  # a function `(path, UploadRequest) -> ParsedUpload` that raises InvalidUpload naming the problem
    targets_in: str | None = None  # where the file holds its targets; None: the form's `target` names a column
    guard: ExpansionGuard | None = None  # None: not compressed, so the upload limit bounds its size in memory

    @property
    def extension(self) -> str:
        return f".{self.name}"

    def read(self, path: Path, request: UploadRequest, max_upload_bytes: int) -> ParsedUpload:
        """The guard first (413), so that nothing is decompressed past its bound; then the reader (422s)."""
        if self.guard is not None:
            resolve(self.guard.check)(path, self.guard.times * max_upload_bytes)
        return resolve(self.reader)(path, request)


FORMATS: tuple[UploadFormat, ...] = (
    UploadFormat("csv", "CSV", reader="app.datasets.tables:read_csv"),
    UploadFormat(
        "parquet",
        "Parquet",
        reader="app.datasets.parquet:read_parquet",
        guard=ExpansionGuard("app.datasets.parquet:check_parquet_size"),
    ),
    UploadFormat(
        "npz",
        "NPZ",
        reader="app.datasets.npz:read_npz",
        targets_in="array 'y'",
        guard=ExpansionGuard("app.datasets.npz:check_archive"),
    ),
)
BY_NAME = {fmt.name: fmt for fmt in FORMATS}
FormatName = Literal[tuple(BY_NAME)]  # type: ignore[valid-type]  # the record's `format`: an entry's name
EXTENSIONS = [fmt.extension for fmt in FORMATS]
TABLES = [fmt for fmt in FORMATS if fmt.targets_in is None]  # the form's `target` names their label column
TABLE_EXTENSIONS = [fmt.extension for fmt in TABLES]


def resolve(ref: str) -> Callable[..., Any]:
    """The function a "module:function" reference names."""
    module, _, function = ref.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def phrase(words: list[str], conjunction: str = "or") -> str:
    """`a, b or c`, as a sentence lists them."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
