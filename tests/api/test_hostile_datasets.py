"""Hostile dataset uploads and inline data through the real HTTP API: files that declare far more than they hold
are refused from their footer or headers with a 4xx naming the problem, the process's peak memory stays flat,
and the server still answers afterwards."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

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
