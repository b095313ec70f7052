"""The file-backed dataset reader: one sequential pass and shuffled read units give the same rows, encoded as an
upload of the same table is, for Parquet and CSV, on local files and on S3 (moto); and a streamed dataset's epochs
and row splits, which are functions of (seed, epoch) and of each row's index."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.core import url_to_fs

from app.datasets import files as files_module
from app.datasets import streamed as streamed_module
from app.datasets.arrays import features_array, to_arrays
from app.datasets.files import iter_tables, list_units, read_unit
from app.datasets.formats import UploadRequest
from app.datasets.schemas import DatasetInfo
from app.datasets.streamed import RowSplit, StreamedDataset
from app.datasets.tables import table_upload
from app.errors import InvalidUpload
from app.training.epochs import StreamedRows

FEATURES = ["a", "b", "c"]


def frame(rows: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    index = np.arange(start, start + rows)
    return pd.DataFrame(
        {
            "a": index.astype(np.float64),
            "b": rng.normal(size=rows),
            "c": (index % 7).astype(np.int64),
            "label": np.array(["cat", "dog", "emu"])[index % 3],
        }
    )


def write(frames: list[pd.DataFrame], fmt: str, folder: str, *, row_group: int = 100) -> list[str]:
    """Files at `folder` (a file:// or s3:// URL); returns their URLs."""
    fs, root = url_to_fs(folder)
    urls = []
    for number, part in enumerate(frames):
        path = f"{root}/part-{number}.{fmt}"
        with fs.open(path, "wb") as f:
            if fmt == "parquet":
                pq.write_table(pa.Table.from_pandas(part, preserve_index=False), f, row_group_size=row_group)
            else:
                f.write(part.to_csv(index=False).encode())
        urls.append(f"{folder.rstrip('/')}/part-{number}.{fmt}")
    return urls


def expected(frames: list[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """What a multipart upload of the whole table would hold."""
    parsed = table_upload(pd.concat(frames, ignore_index=True), UploadRequest("t", "label", None))
    return parsed.dataset.x, parsed.dataset.y, parsed.dataset.classes


def arrays(table: pa.Table, classes: list[str], first_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return to_arrays(
        table, features=FEATURES, target="label", task="classification", classes=classes, first_row=first_row
    )


@pytest.fixture(params=["parquet", "csv"])
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


def check_reader(urls: list[str], fmt: str, frames: list[pd.DataFrame]) -> None:
    x, y, classes = expected(frames)
    seen = []
    for url, first_row, table in iter_tables(urls, fmt, batch_rows=64):
        assert table.num_rows <= 64
        assert url in urls
        seen.append((first_row, *arrays(table, classes, first_row)))
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    np.testing.assert_array_equal(np.concatenate([s[1] for s in seen]), x)
    np.testing.assert_array_equal(np.concatenate([s[2] for s in seen]), y)

    units = list_units(urls, fmt, unit_bytes=2048)
    assert len(units) > len(urls)  # the files are cut into several units each
    assert [u.first_row for u in units] == list(np.cumsum([0] + [u.rows for u in units[:-1]]))
    assert sum(u.rows for u in units) == len(x)
    for unit in reversed(units):  # any order: each unit is read on its own
        chunks = list(read_unit(unit, batch_rows=50))
        assert all(chunk.num_rows <= 50 for chunk in chunks)
        ux, uy = arrays(pa.concat_tables(chunks), classes, unit.first_row)
        np.testing.assert_array_equal(ux, x[unit.first_row : unit.first_row + unit.rows])
        np.testing.assert_array_equal(uy, y[unit.first_row : unit.first_row + unit.rows])


def test_local_files_read_as_an_upload_of_the_same_table(tmp_path: Path, fmt: str) -> None:
    frames = [frame(450), frame(301, start=450), frame(7, start=751)]
    check_reader(write(frames, fmt, f"file://{tmp_path}"), fmt, frames)


def test_row_groups_too_big_to_decode_whole_read_the_same_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files_module, "WHOLE_GROUP_BYTES", 0)
    frames = [frame(450), frame(301, start=450)]
    check_reader(write(frames, "parquet", f"file://{tmp_path}"), "parquet", frames)


def test_a_local_file_rewritten_in_place_reads_its_new_rows(tmp_path: Path) -> None:
    """Footers are kept between reads of a file; one rewritten since must not be read through its old footer."""
    [url] = write([frame(300)], "parquet", f"file://{tmp_path}")
    assert sum(table.num_rows for unit in list_units([url], "parquet") for table in read_unit(unit)) == 300
    rewritten = [frame(500, start=1000)]
    assert write(rewritten, "parquet", f"file://{tmp_path}", row_group=70) == [url]
    check_reader([url], "parquet", rewritten)


def test_files_on_s3_read_the_same(s3_bucket: str, fmt: str) -> None:
    frames = [frame(300), frame(120, start=300)]
    check_reader(write(frames, fmt, f"{s3_bucket}/data"), fmt, frames)


def test_only_the_columns_asked_for_are_read(tmp_path: Path, fmt: str) -> None:
    urls = write([frame(30)], fmt, f"file://{tmp_path}")
    [(_, _, table)] = list(iter_tables(urls, fmt, columns=["b", "label"]))
    assert table.column_names == ["b", "label"]
    [unit] = list_units(urls, fmt)
    [table] = list(read_unit(unit, columns=["a"]))
    assert table.column_names == ["a"]


def test_csv_without_a_final_line_end_keeps_its_last_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,label\n1,2,3,cat\n4,5,6,dog")
    units = list_units([str(path)], "csv")
    assert [u.rows for u in units] == [2]
    x, y = arrays(pa.concat_tables(read_unit(units[0])), ["cat", "dog"])
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]] and y.tolist() == [0, 1]


def test_regression_targets_and_whole_number_labels_encode_as_uploads_do(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,label\n1,2,3,1.0\n4,5,6,3.0\n7,8,9,1.0\n")
    [(_, _, table)] = iter_tables([str(path)], "csv")
    common = {"features": FEATURES, "target": "label"}
    _, y = to_arrays(table, **common, task="classification", classes=["1", "3"])
    assert y.tolist() == [0, 1, 0]
    _, y = to_arrays(table, **common, task="regression", classes=None)
    assert y.dtype == np.float32 and y.tolist() == [1.0, 3.0, 1.0]


def test_bad_cells_name_the_column_and_the_global_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,label\n1,2,3,cat\n4,,6,dog\n7,8,9,yak\n")
    [(_, _, table)] = iter_tables([str(path)], "csv")
    with pytest.raises(InvalidUpload, match=r"feature column 'b' holds a missing value \(NaN\) in row 101"):
        arrays(table, ["cat", "dog", "yak"], first_row=100)
    fixed = table.set_column(1, "b", pa.array([2.0, 5.0, 8.0]))
    with pytest.raises(InvalidUpload, match=r"'yak' in row 2, which is not one of \['cat', 'dog'\]"):
        arrays(fixed, ["cat", "dog"])
    with pytest.raises(InvalidUpload, match="no column 'a'"):
        arrays(table.drop_columns(["a"]), ["cat", "dog", "yak"])


def test_features_are_one_c_contiguous_float32_array_cast_as_numpy_casts_each_column() -> None:
    columns = {
        "f32": pa.array([1.5, -2.25, 3.1], pa.float32()),
        "f64": pa.array([0.1, 1e-40, -7.123456789]),
        "i64": pa.array([1, 2**40 + 1, -3]),
        "u8": pa.array([0, 255, 7], pa.uint8()),
        "flag": pa.array([True, False, True]),
        "f16": pa.array(np.array([0.5, 2.0, -1.0], np.float16)),
        "chunks": pa.chunked_array([pa.array([1.0, 2.0], pa.float32()), pa.array([3.0], pa.float32())]),
    }
    table = pa.table(columns)
    order = ["u8", "f32", "chunks", "f64", "flag", "i64", "f16"]
    x = features_array(table, features=order)

    assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape == (3, 7)
    each = [np.asarray(columns[name].to_numpy(zero_copy_only=False)).astype(np.float32) for name in order]
    np.testing.assert_array_equal(x, np.column_stack(each))
    np.testing.assert_array_equal(features_array(table.slice(1), features=order), np.column_stack(each)[1:])
    assert features_array(table, features=[]).shape == (3, 0)
    out = np.full((3, 7), np.nan, np.float32)  # a caller's array, reused chunk after chunk
    assert features_array(table, features=order, out=out) is out
    np.testing.assert_array_equal(out, x)


def test_a_null_or_an_infinity_among_the_features_names_its_first_row_and_column() -> None:
    table = pa.table({"a": [1.0, 2.0, None, 4.0], "b": pa.array([1, None, 3, 4]), "c": [0.0, 0.0, 0.0, 1e39]})
    with pytest.raises(InvalidUpload, match=r"feature column 'b' holds a missing value \(NaN\) in row 11"):
        features_array(table, features=["a", "b", "c"], first_row=10)
    with pytest.raises(InvalidUpload, match=r"feature column 'c' holds inf in row 3"):
        features_array(table, features=["c"])
    huge = pa.table({"a": pa.array([3e38, 3e38], pa.float32())})  # finite cells whose sum is not
    np.testing.assert_array_equal(features_array(huge, features=["a"]), np.full((2, 1), 3e38, np.float32))


def test_a_file_that_is_not_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(InvalidUpload, match=f"cannot read {path} as Parquet"):
        list(iter_tables([str(path)], "parquet"))
    with pytest.raises(InvalidUpload, match=f"cannot read {path} as Parquet"):
        list_units([str(path)], "parquet")


def streamed(urls: list[str], fmt: str, rows: int) -> StreamedDataset:
    """The record profiling would write for the files (statistics unused here)."""
    return StreamedDataset(
        DatasetInfo(
            id="00000000-0000-4000-8000-000000000000",
            name="t",
            format=fmt,
            rows=rows,
            feature_shape=[len(FEATURES)],
            task="classification",
            classes=["cat", "dog", "emu"],
            sha256="x",
            created_at=datetime.now(UTC),
            target="label",
            features=FEATURES,
            files=urls,
        )
    )


def test_an_epoch_order_is_a_function_of_seed_and_epoch_and_visits_each_row_once(tmp_path: Path, fmt: str) -> None:
    frames = [frame(450), frame(301, start=450)]
    data = streamed(write(frames, fmt, f"file://{tmp_path}"), fmt, 751)
    split = RowSplit(0.2, 1.0, seed=3)
    rows = StreamedRows(data, split, lambda y: y)

    def epoch(seed: int, number: int) -> np.ndarray:
        batches = list(rows.batches(batch_size=32, seed=seed, epoch=number, shuffle=True))
        assert len(batches) == -(-rows.rows // 32) and all(len(x) == 32 for x, _ in batches[:-1])
        return np.concatenate([x[:, 0] for x, _ in batches])  # column `a` is the row's global index

    first = epoch(7, 0)
    assert np.array_equal(first, epoch(7, 0)), "the same (seed, epoch), the same batches"
    assert not np.array_equal(first, epoch(7, 1)) and not np.array_equal(first, epoch(8, 0))
    assert sorted(first.astype(int)) == list(np.flatnonzero(split.mask(0, 751))), "each training row once"


def test_row_splits_are_disjoint_cover_every_row_and_keep_their_fractions() -> None:
    test, validation, train = RowSplit(0.0, 0.1, 5), RowSplit(0.1, 0.3, 5), RowSplit(0.3, 1.0, 5)
    masks = np.stack([s.mask(1000, 50_000) for s in (test, validation, train)])
    assert (masks.sum(axis=0) == 1).all()
    assert masks.mean(axis=1) == pytest.approx([0.1, 0.2, 0.7], abs=0.01)
    assert np.array_equal(test.mask(1000, 50_000)[500:], test.mask(1500, 49_500)), "a row's side is its own"
    assert not np.array_equal(test.mask(0, 1000), RowSplit(0.0, 0.1, 6).mask(0, 1000))


def test_feature_tables_are_the_rows_read_rows_gives_for_any_ranges(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamed_module, "FEATURE_CHUNK_BYTES", 4 * len(FEATURES) * 40)  # chunks of 40 rows
    frames = [frame(450), frame(301, start=450)]
    urls = write(frames, fmt, f"file://{tmp_path}")
    x, _, _ = expected(frames)
    data = streamed(urls, fmt, 751)
    for start, stop in [(0, 130), (130, 260), (260, 751), (5, 6), (449, 452), (700, 751)]:
        tables = list(data.feature_tables(start, stop))
        assert all(table.num_rows <= 40 and table.column_names == FEATURES for table in tables)
        chunks = [features_array(table, features=FEATURES) for table in tables]
        np.testing.assert_array_equal(np.concatenate(chunks), x[start:stop])
        np.testing.assert_array_equal(np.concatenate(chunks), streamed(urls, fmt, 751).read_rows(start, stop)[0])
