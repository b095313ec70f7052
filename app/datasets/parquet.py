"""Parquet uploads, judged from the footer before any data is read.

Parquet encodes and compresses its pages, so a small file can declare a vast table: a list column of 3x10^8
zeros, or one 10 MiB string repeated in every row through a dictionary page, takes kilobytes on disk and
gigabytes once decoded. So the schema must be flat (one scalar per cell: nested columns are refused naming the
column), the table's cells and the uncompressed data its row groups declare must fit the expansion bound, and
text columns are read dictionary-encoded, so that a value repeated in many rows is held once.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from app.datasets.checks import rejected
from app.datasets.formats import ParsedUpload, UploadRequest
from app.datasets.tables import readable, table_upload
from app.errors import TooLarge

CELL_BYTES = 8  # a number in memory; text cells are dictionary codes plus the values the row groups declare
SCALARS = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_null, pa.types.is_temporal)
TEXT = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)


def read_parquet(path: Path, request: UploadRequest) -> ParsedUpload:
    """The table, after `check_parquet_size` has judged its footer (the guard runs first)."""
    schema = readable(lambda: pq.read_schema(path), "Parquet")
    text = [field.name for field in schema if _is_text(field.type)]
    table = readable(lambda: pq.read_table(path, read_dictionary=text), "Parquet")
    return table_upload(readable(table.to_pandas, "Parquet"), request)


def check_parquet_size(path: Path, max_bytes: int) -> None:
    """422 for a column that is not one scalar per cell; 413 when the cells, at 8 bytes each, plus the
    uncompressed data the row groups declare would take more than `max_bytes` in memory."""
    parquet = readable(lambda: pq.ParquetFile(path), "Parquet")
    for field in parquet.schema_arrow:
        _check_flat(field)
    meta = parquet.metadata
    cells = meta.num_rows * meta.num_columns * CELL_BYTES
    declared = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if cells + declared > max_bytes:
        raise TooLarge(
            f"the Parquet file holds {meta.num_rows} rows of {meta.num_columns} columns and declares {declared} "
            f"bytes of uncompressed data, about {cells + declared} bytes in memory, more than the {max_bytes} "
            "accepted"
        )


def _check_flat(field: pa.Field) -> None:
    kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if not any(accepts(kind) for accepts in (*SCALARS, *TEXT, pa.types.is_decimal)):
        msg = (
            f"column {field.name!r} holds {field.type} values; a table upload holds one number or label per "
            "cell, never lists, structs, maps or binary data"
        )
        raise rejected(msg, field.name)


def _is_text(kind: pa.DataType) -> bool:
    return any(accepts(kind) for accepts in TEXT)
