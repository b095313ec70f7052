"""Parquet uploads, judged from the footer before any data is read.

Parquet encodes and compresses its pages, so a small file can declare a vast table: a list column of 3x10^8
zeros, or one 10 MiB string repeated in every row through a dictionary page, takes kilobytes on disk and
gigabytes once decoded. So the schema must be flat (one scalar per cell: nested columns are refused naming the
column), the table's cells and the uncompressed data its row groups declare must fit the expansion bound, and
text columns are read dictionary-encoded, so that a value repeated in many rows is held once.

The footer is only the writer's word: a crafted file can declare ten rows and a few bytes there while one of
its pages decompresses to gigabytes, and the reader sizes its decompression buffer from the page's own header.
So the page headers are read too (a few bytes each, Thrift's compact encoding) and their uncompressed sizes
are what the bound judges.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from app.datasets.checks import rejected
from app.datasets.formats import ParsedUpload, UploadRequest
from app.datasets.tables import readable, table_upload
from app.errors import TooLarge

CELL_BYTES = 8  # a number in memory; text cells are dictionary codes plus the values the row groups declare
SCALARS = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_null, pa.types.is_temporal)
TEXT = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
MAX_PAGES = 200_000  # far more than a file within the upload limit needs; each costs a read to judge
MAX_HEADER_BYTES = 16 * 2**20  # Arrow's own bound on one page header


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
    if cells + declared <= max_bytes:
        declared = readable(lambda: _page_bytes(path, meta), "Parquet")
    if cells + declared > max_bytes:
        raise TooLarge(
            f"the Parquet file holds {meta.num_rows} rows of {meta.num_columns} columns and declares {declared} "
            f"bytes of uncompressed data, about {cells + declared} bytes in memory, more than the {max_bytes} "
            "accepted"
        )


def _page_bytes(path: Path, meta: pq.FileMetaData) -> int:
    """The uncompressed sizes the page headers of every column chunk declare, added up: what reading the file
    decompresses, whatever the footer says. ValueError for headers that are not pages of their chunk."""
    total = pages = 0
    with path.open("rb") as f:
        for group in range(meta.num_row_groups):
            for index in range(meta.num_columns):
                chunk = meta.row_group(group).column(index)
                start = chunk.data_page_offset
                if chunk.has_dictionary_page and 0 < chunk.dictionary_page_offset < start:
                    start = chunk.dictionary_page_offset
                position, end = start, start + chunk.total_compressed_size
                while position < end:
                    pages += 1
                    if pages > MAX_PAGES:
                        raise ValueError(f"it has more than {MAX_PAGES} pages")
                    header_size, uncompressed, compressed = _page_header(f, position)
                    total += uncompressed
                    position += header_size + compressed
    return total


def _page_header(f: BinaryIO, position: int) -> tuple[int, int, int]:
    """(header bytes, uncompressed size, compressed size) of the page header at `position`."""
    window = 256
    while True:
        f.seek(position)
        data = f.read(window)
        try:
            sizes, size = _PageHeader(data).read()
        except IndexError:  # the header runs past what was read: read more, up to Arrow's own bound
            if len(data) < window or window >= MAX_HEADER_BYTES:
                raise ValueError(f"the page header at byte {position} is cut short or too long") from None
            window *= 4
            continue
        uncompressed, compressed = sizes.get(2, -1), sizes.get(3, -1)
        if uncompressed < 0 or compressed < 0:
            raise ValueError(f"the page header at byte {position} declares no valid sizes")
        return size, uncompressed, compressed


class _PageHeader:
    """Just enough of Thrift's compact protocol to read a PageHeader's top-level integers (field 2 is its
    uncompressed size, 3 its compressed size) and skip everything else."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self) -> tuple[dict[int, int], int]:
        integers: dict[int, int] = {}
        for field, kind in self._fields():
            if kind == 5:  # i32
                integers[field] = self._zigzag()
            else:
                self._skip(kind, depth=1)
        return integers, self.pos

    def _fields(self) -> Iterator[tuple[int, int]]:
        last = 0
        while True:
            head = self._byte()
            if head == 0:
                return
            delta, kind = head >> 4, head & 0x0F
            last = last + delta if delta else self._zigzag()
            yield last, kind

    def _expect(self, count: int) -> None:
        """Each element takes a byte at least: a count past the bytes left is read further (or refused) at once."""
        if count > len(self.data) - self.pos:
            raise IndexError(count)

    def _byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def _varint(self) -> int:
        shift = value = 0
        while True:
            byte = self._byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("a page header holds an integer longer than 64 bits")

    def _zigzag(self) -> int:
        value = self._varint()
        return (value >> 1) ^ -(value & 1)

    def _skip(self, kind: int, depth: int) -> None:
        if depth > 16:
            raise ValueError("a page header nests deeper than any Parquet writer writes")
        if kind in (1, 2):  # a struct field's bool lives in its type
            return
        if kind == 3:
            self.pos += 1
        elif kind in (4, 5, 6):
            self._varint()
        elif kind == 7:
            self.pos += 8
        elif kind == 8:
            length = self._varint()  # read first: `self.pos += self._varint()` would drop the varint's own bytes
            self.pos += length
        elif kind in (9, 10):
            head = self._byte()
            count, element = head >> 4, head & 0x0F
            if count == 15:
                count = self._varint()
            self._expect(count)
            for _ in range(count):
                if element in (1, 2):  # a list's bools take a byte each
                    self.pos += 1
                else:
                    self._skip(element, depth + 1)
        elif kind == 11:
            count = self._varint()
            self._expect(count)
            types = self._byte() if count else 0
            for _ in range(count):
                self._skip(types >> 4, depth + 1)
                self._skip(types & 0x0F, depth + 1)
        elif kind == 12:
            for _field, inner in self._fields():
                self._skip(inner, depth + 1)
        else:
            raise ValueError(f"a page header holds a field of unknown type {kind}")
        if self.pos > len(self.data):
            raise IndexError(self.pos)


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
