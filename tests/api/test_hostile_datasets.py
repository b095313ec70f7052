"""Hostile dataset uploads and inline data through the real HTTP API: files that declare far more than they hold
are refused from their footer or headers with a 4xx naming the problem, the process's peak memory stays flat,
and the server still answers afterwards."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_hostile_input import GROWTH_LIMIT_KB, peak_rss_kb, reset_peak_rss
from tests.api.test_train_api import assert_problem
from tests.support import iris_spec

LIST_ROWS, LIST_WIDTH = 100_000, 3_000  # 3x10^8 list elements: 2.4 GB of float64 once read


@contextmanager
def flat_memory() -> Iterator[None]:
    """Fail when the block raises this process's peak RSS (the app runs in it under TestClient) by 150 MB."""
    reset_peak_rss()
    before = peak_rss_kb()
    yield
    growth = peak_rss_kb() - before
    assert growth < GROWTH_LIMIT_KB, f"peak RSS grew by {growth // 1024} MiB"


def post_file(client: TestClient, path: Path, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/datasets", files={"file": (path.name, path.read_bytes())}, data={"name": "hostile", **fields})


def assert_still_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.fixture(scope="module")
def list_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet file of kilobytes whose list column holds 3x10^8 zeros, written a batch at a time."""
    path = tmp_path_factory.mktemp("bombs") / "pixels.parquet"
    batch_rows = 1_000
    offsets = pa.array(np.arange(0, batch_rows * LIST_WIDTH + 1, LIST_WIDTH, dtype=np.int32))
    pixels = pa.ListArray.from_arrays(offsets, pa.array(np.zeros(batch_rows * LIST_WIDTH)))
    batch = pa.table({"pixels": pixels, "label": pa.array(np.zeros(batch_rows, dtype=np.int64))})
    with pq.ParquetWriter(path, batch.schema, write_statistics=False) as writer:
        for _ in range(LIST_ROWS // batch_rows):
            writer.write_table(batch)
    return path


def test_a_parquet_list_column_bomb_is_refused_from_the_footer(client: TestClient, list_bomb: Path) -> None:
    assert list_bomb.stat().st_size < 2**20
    with flat_memory():
        body = assert_problem(post_file(client, list_bomb, target="label"), 422)
    assert body["code"] == "invalid_upload"
    assert "column 'pixels' holds list<" in body["detail"] and "one number or label per cell" in body["detail"]
    assert body["errors"][0]["loc"] == ["file", "pixels"]
    assert_still_answers(client)


def test_a_long_text_label_repeated_in_every_row_is_held_once(client: TestClient, tmp_path: Path) -> None:
    """A dictionary page holds one 1 MiB label for 100,000 rows: decoded per row (or widened to a fixed-width
    text array) it would take 100 GB; kept as categories it takes a few MiB."""
    rows, long_label = 100_000, "x" * 2**20
    labels = pa.DictionaryArray.from_arrays(pa.array(np.arange(rows, dtype=np.int32) % 2), ["short", long_label])
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"a": np.arange(rows, dtype=np.float64), "label": labels}), path)
    with flat_memory():
        response = post_file(client, path, target="label")
    assert response.status_code == 201, response.text[:300]
    assert [len(name) for name in response.json()["classes"]] == [len("short"), 2**20]
    assert_still_answers(client)


def test_a_long_text_feature_is_named_without_being_decoded_or_echoed(client: TestClient, tmp_path: Path) -> None:
    rows = 10_000
    notes = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), ["n" * 2**20])
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"note": notes, "label": np.arange(rows) % 2}), path)
    with flat_memory():
        body = assert_problem(post_file(client, path, target="label"), 422)
    assert body["detail"].startswith("feature column 'note' is not numeric: row 0 holds 'nnn")
    assert len(body["detail"]) < 200
    assert_still_answers(client)


class Compact:
    """Thrift's compact protocol, as far as a Parquet footer needs: a struct is a list of [field id, type,
    value], so that a test can rewrite a footer's numbers and write it back."""

    @staticmethod
    def varint(n: int) -> bytes:
        out = bytearray()
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        return bytes([*out, n])

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def _uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def _int(self) -> int:
        value = self._uvarint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> object:
        if kind in (1, 2):
            return kind == 1
        if kind in (4, 5, 6):
            return self._int()
        if kind == 8:
            size = self._uvarint()
            self.pos += size
            return self.data[self.pos - size : self.pos]
        if kind == 9:
            head = self.data[self.pos]
            self.pos += 1
            count = head >> 4 if head >> 4 != 15 else self._uvarint()
            return [head & 0x0F, [self.value(head & 0x0F) for _ in range(count)]]
        if kind == 12:
            return self.struct()
        raise AssertionError(f"no Parquet footer field of type {kind} expected")

    def struct(self) -> list[list]:
        fields, last = [], 0
        while head := self.data[self.pos]:
            self.pos += 1
            last = last + (head >> 4) if head >> 4 else self._int()
            fields.append([last, head & 0x0F, self.value(head & 0x0F)])
        self.pos += 1
        return fields

    @classmethod
    def encode(cls, kind: int, value: object) -> bytes:
        if kind in (1, 2):
            return b""
        if kind in (4, 5, 6):
            assert isinstance(value, int)
            return cls.varint((value << 1) ^ (value >> 63))
        if kind == 8:
            assert isinstance(value, bytes)
            return cls.varint(len(value)) + value
        if kind == 9:
            element, items = value  # type: ignore[misc]
            head = (
                bytes([len(items) << 4 | element])
                if len(items) < 15
                else bytes([0xF0 | element]) + cls.varint(len(items))
            )
            return head + b"".join(cls.encode(element, item) for item in items)
        out, last = bytearray(), 0
        for field, field_kind, field_value in value:  # type: ignore[attr-defined]
            out += bytes([(field - last) << 4 | field_kind]) + cls.encode(field_kind, field_value)
            last = field
        return bytes([*out, 0])


def field(fields: list[list], number: int) -> list:
    return next(f for f in fields if f[0] == number)


def understated_parquet(path: Path, *, rows: int, claimed_rows: int) -> Path:
    """Two int64 columns of `rows` zeros, each in one zstd page of kilobytes, whose footer claims `claimed_rows`
    rows and 8 bytes a cell: all the footer checks see is a tiny table."""
    zeros = pa.array(np.zeros(rows, dtype=np.int64))
    pq.write_table(
        pa.table({"a": zeros, "label": zeros}),
        path,
        compression="zstd",
        use_dictionary=False,
        write_statistics=False,
        row_group_size=rows,
        max_rows_per_page=rows,
        write_batch_size=rows,
        data_page_size=2**31 - 1,
    )
    raw = path.read_bytes()
    start = len(raw) - 8 - struct.unpack("<I", raw[-8:-4])[0]
    footer = Compact(raw, start).struct()
    field(footer, 3)[2] = claimed_rows  # FileMetaData.num_rows
    for group in field(footer, 4)[2][1]:  # RowGroup: total_byte_size, num_rows
        field(group, 2)[2], field(group, 3)[2] = claimed_rows * 16, claimed_rows
        for chunk in field(group, 1)[2][1]:  # ColumnMetaData: num_values, total_uncompressed_size
            meta = field(chunk, 3)[2]
            field(meta, 5)[2], field(meta, 6)[2] = claimed_rows, claimed_rows * 8
    forged = Compact.encode(12, footer)
    path.write_bytes(raw[:start] + forged + struct.pack("<I", len(forged)) + b"PAR1")
    return path


def test_a_parquet_footer_that_understates_its_pages_is_judged_by_the_pages(tmp_path: Path) -> None:
    """The footer says 10 rows in 160 bytes; each column's one page decompresses to 160 MB, and the reader
    sizes its buffer from the page's own header: so the bound reads the page headers too."""
    path = understated_parquet(tmp_path / "understated.parquet", rows=20_000_000, claimed_rows=10)
    assert path.stat().st_size < 64 * 2**10
    assert pq.ParquetFile(path).metadata.num_rows == 10
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, max_upload_mb=1)
    with TestClient(create_app(settings)) as client:
        with flat_memory():
            body = assert_problem(post_file(client, path, target="label"), 413)
        assert body["code"] == "too_large"
        declared = re.search(
            r"holds 10 rows of 2 columns and declares (\d+) bytes of uncompressed data", body["detail"]
        )
        assert declared is not None and int(declared.group(1)) >= 2 * 20_000_000 * 8, body["detail"]
        assert_still_answers(client)


def npz_with_header(x_header: dict, x_data: bytes) -> bytes:
    """An .npz whose 'x' member is an .npy header, forged as given, followed by `x_data`; 'y' is genuine."""
    x = io.BytesIO()
    np.lib.format.write_array_header_1_0(x, x_header)
    y = io.BytesIO()
    np.save(y, np.zeros(4, dtype=np.int64))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("x.npy", x.getvalue() + x_data)
        zipped.writestr("y.npy", y.getvalue())
    return archive.getvalue()


def post_npz(client: TestClient, content: bytes):  # type: ignore[no-untyped-def]
    return client.post("/datasets", files={"file": ("forged.npz", content)}, data={"name": "forged"})


def test_an_npz_header_declaring_10_to_the_11_rows_is_413_before_allocating(client: TestClient) -> None:
    forged = npz_with_header({"descr": "<f8", "fortran_order": False, "shape": (10**11, 784)}, bytes(64))
    with flat_memory():
        body = assert_problem(post_npz(client, forged), 413)
    assert body["code"] == "too_large"
    expected = f"array 'x' declares shape [100000000000, 784] of float64, {10**11 * 784 * 8} bytes in memory"
    assert body["detail"].startswith(expected)
    assert_still_answers(client)


def test_an_npz_header_declaring_more_than_its_member_holds_is_422(client: TestClient) -> None:
    forged = npz_with_header({"descr": "<f4", "fortran_order": False, "shape": (4, 1000)}, bytes(64))
    body = assert_problem(post_npz(client, forged), 422)
    assert "array 'x' declares shape [4, 1000] of float32, 16000 bytes, but its member holds only" in body["detail"]
    assert body["errors"][0]["loc"] == ["file", "x"]


def test_an_npz_array_of_python_objects_is_refused_from_its_header(client: TestClient) -> None:
    forged = npz_with_header({"descr": "|O", "fortran_order": False, "shape": (4, 2)}, b"\x80\x04N.")
    body = assert_problem(post_npz(client, forged), 422)
    assert body["detail"] == "array 'x' has dtype object: arrays hold numbers or strings, never Python objects"
    assert_still_answers(client)


def inline_spec(x: list, y: list) -> dict:
    return iris_spec(dataset={"inline": {"x": x, "y": y}}, fit={"epochs": 1, "batch_size": 2})


@pytest.mark.parametrize(
    ("y", "row", "held"),
    [
        (["setosa", None, "virginica"], 1, "null"),
        (["setosa", "virginica", {"label": "setosa"}], 2, "an object"),
        ([0.5, None, 1.5], 1, "null"),
    ],
)
def test_inline_y_with_null_or_objects_is_422_naming_the_row(client: TestClient, y: list, row: int, held: str) -> None:
    body = assert_problem(client.post("/train", json=inline_spec([[1.0, 2.0, 3.0, 4.0]] * 3, y)), 422)
    assert body["detail"] == f"y row {row} holds {held}; y must hold numbers, strings or booleans"
    assert body["errors"][0]["loc"] == ["dataset", "inline", "y", row]
    assert_still_answers(client)


@pytest.mark.parametrize(
    ("bad_row", "detail"),
    [
        ([1.0, None, 3.0, 4.0], "x row 1 holds null; x must hold numbers only"),
        ([1.0, "two", 3.0, 4.0], "x row 1 holds the string 'two'; x must hold numbers only"),
        ([1.0, 2.0, 3.0], "x row 1 has shape [3] but row 0 has shape [4]"),
        ([[1.0], 2.0, 3.0, 4.0], "x row 1 is ragged: its lists differ in length"),
    ],
)
def test_inline_x_with_nulls_strings_or_ragged_rows_is_422_naming_the_row(
    client: TestClient, bad_row: list, detail: str
) -> None:
    x = [[1.0, 2.0, 3.0, 4.0], bad_row, [5.0, 6.0, 7.0, 8.0]]
    body = assert_problem(client.post("/train", json=inline_spec(x, ["setosa", "versicolor", "virginica"])), 422)
    assert body["detail"] == detail and body["errors"][0]["loc"] == ["dataset", "inline", "x", 1]
    assert_still_answers(client)
