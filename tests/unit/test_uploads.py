"""Parsing uploaded files (CSV, Parquet, NPZ) into Datasets: label encoding, the task rule, and every refusal."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.datasets.formats import BY_NAME, EXTENSIONS, FORMATS, ParsedUpload, UploadRequest, resolve
from app.datasets.targets import MAX_DEFAULT_CLASSES
from app.datasets.uploads import parse_upload, upload_format
from app.errors import InvalidUpload, TooLarge

MB = 2**20


def write(tmp_path: Path, filename: str, content: bytes) -> Path:
    path = tmp_path / filename
    path.write_bytes(content)
    return path


def parse(
    path: Path, fmt: str, name: str, *, target: str | None = None, task: str | None = None, limit: int = MB
) -> ParsedUpload:
    """The file parsed as the service does: its format by name, the form's fields and the upload limit."""
    request = UploadRequest(name, target, task)  # type: ignore[arg-type]
    return parse_upload(path, BY_NAME[fmt], request, max_upload_bytes=limit)


def parse_csv(tmp_path: Path, text: str, target: str | None = "label", task: str | None = None) -> ParsedUpload:
    return parse(write(tmp_path, "data.csv", text.encode()), "csv", "data", target=target, task=task)


def refusal(call, *args, **kwargs) -> InvalidUpload:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidUpload) as info:
        call(*args, **kwargs)
    return info.value


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_string_labels_are_encoded_as_sorted_class_names(tmp_path: Path) -> None:
    parsed = parse_csv(tmp_path, "a,b,label\n1,2,dog\n3,4,cat\n5,6,dog\n7,8,bird\n")
    data = parsed.dataset
    assert data.task == "classification" and data.classes == ["bird", "cat", "dog"]
    assert data.y.tolist() == [2, 1, 2, 0] and data.y.dtype == np.int64
    assert data.x.dtype == np.float32 and data.x.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert parsed.features == ["a", "b"] and data.feature_shape == [2] and data.rows == 4


def test_target_column_may_stand_anywhere_and_features_keep_their_order(tmp_path: Path) -> None:
    parsed = parse_csv(tmp_path, "label,z,a\nyes,1,2\nno,3,4\n")
    assert parsed.features == ["z", "a"] and parsed.dataset.x.tolist() == [[1, 2], [3, 4]]


def test_float_target_means_regression(tmp_path: Path) -> None:
    data = parse_csv(tmp_path, "a,label\n1,0.5\n2,1.0\n3,2.25\n").dataset
    assert data.task == "regression" and data.classes is None
    assert data.y.dtype == np.float32 and data.y.tolist() == [0.5, 1.0, 2.25]


def test_few_integers_mean_classification_many_mean_regression(tmp_path: Path) -> None:
    few = parse_csv(tmp_path, "a,label\n1,10\n2,2\n3,10\n").dataset
    assert few.task == "classification" and few.classes == ["2", "10"] and few.y.tolist() == [1, 0, 1]
    rows = "\n".join(f"{i},{i * 7}" for i in range(MAX_DEFAULT_CLASSES + 1))
    assert parse_csv(tmp_path, f"a,label\n{rows}\n").dataset.task == "regression"


def test_boolean_target_is_classification(tmp_path: Path) -> None:
    data = parse_csv(tmp_path, "a,label\n1,True\n2,False\n").dataset
    assert data.classes == ["False", "True"] and data.y.tolist() == [1, 0]


def test_task_field_overrides_the_rule(tmp_path: Path) -> None:
    whole = parse_csv(tmp_path, "a,label\n1,1.0\n2,3.0\n", task="classification").dataset
    assert whole.classes == ["1", "3"] and whole.y.tolist() == [0, 1]
    counts = parse_csv(tmp_path, "a,label\n1,1\n2,3\n", task="regression").dataset
    assert counts.task == "regression" and counts.y.tolist() == [1.0, 3.0]


def test_text_target_cannot_be_regression(tmp_path: Path) -> None:
    error = refusal(parse_csv, tmp_path, "a,label\n1,2.5\n2,high\n", task="regression")
    assert "row 1" in error.detail and "'high'" in error.detail
    assert error.errors[0]["loc"] == ["file", "label", 1]


def test_nan_and_inf_features_are_refused_naming_column_and_row(tmp_path: Path) -> None:
    error = refusal(parse_csv, tmp_path, "a,b,c,label\n1,2,3,x\n4,,6,y\n7,8,inf,x\n")
    assert "feature column 'b' holds a missing value (NaN) in row 1" in error.detail
    assert "feature column 'c' holds inf in row 2" in error.detail
    assert [e["loc"] for e in error.errors] == [["file", "b", 1], ["file", "c", 2]]


def test_values_beyond_float32_are_refused_as_inf(tmp_path: Path) -> None:
    error = refusal(parse_csv, tmp_path, "a,label\n1e39,x\n1,y\n")
    assert error.errors[0]["loc"] == ["file", "a", 0] and "inf" in error.detail


def test_non_numeric_feature_is_refused_naming_the_column(tmp_path: Path) -> None:
    error = refusal(parse_csv, tmp_path, "a,color,label\n1,2,x\n2,red,y\n")
    assert "feature column 'color' is not numeric: row 1 holds 'red'" in error.detail
    assert error.errors[0]["loc"] == ["file", "color", 1]


def test_missing_target_lists_the_columns(tmp_path: Path) -> None:
    for target in ("species", None):
        error = refusal(parse_csv, tmp_path, "a,b,label\n1,2,x\n", target=target)
        assert "['a', 'b', 'label']" in error.detail and error.errors[0]["loc"] == ["target"]


def test_missing_label_is_refused_naming_the_row(tmp_path: Path) -> None:
    error = refusal(parse_csv, tmp_path, "a,label\n1,x\n2,\n")
    assert "target column 'label' has no value in row 1" in error.detail


def test_tables_without_rows_or_features_are_refused(tmp_path: Path) -> None:
    assert "no data rows" in refusal(parse_csv, tmp_path, "a,label\n").detail
    assert "no feature columns" in refusal(parse_csv, tmp_path, "label\nx\n").detail


def test_empty_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    assert refusal(parse_csv, tmp_path, "").detail == "the uploaded file is empty"
    assert "cannot read the file as CSV" in refusal(parse_csv, tmp_path, "a,label\n1,x\n2,y,z,w\n").detail
    path = write(tmp_path, "data.parquet", b"not parquet at all")
    assert "cannot read the file as Parquet" in refusal(parse, path, "parquet", "d", target="label").detail


def test_format_comes_from_the_extension_in_any_case() -> None:
    assert [upload_format(n).name for n in ("a.csv", "b.PARQUET", "c.d.npz")] == ["csv", "parquet", "npz"]
    assert [upload_format(f"data{fmt.extension.upper()}") for fmt in FORMATS] == list(FORMATS)


def test_an_unknown_extension_is_refused_listing_every_registered_format() -> None:
    for filename in ("data.xlsx", "data", "csv"):
        error = refusal(upload_format, filename)
        assert error.detail.endswith("must end in .csv, .parquet or .npz")
        assert all(extension in error.detail for extension in EXTENSIONS)


def test_every_format_names_a_reader_and_guard_that_exist() -> None:
    """The registry names them as strings (so the CLI need not import pandas): a typo must fail here."""
    for fmt in FORMATS:
        assert callable(resolve(fmt.reader)), fmt.reader
        assert fmt.guard is None or callable(resolve(fmt.guard.check)), fmt.guard
    assert [fmt.name for fmt in FORMATS if fmt.guard] == ["parquet", "npz"]  # the compressed ones


def test_parquet_upload_matches_the_same_table_as_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, 2.0, 3.0], "b": [1, 0, 1], "label": ["cat", "dog", "cat"]})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    parsed = parse(path, "parquet", "data", target="label")
    assert parsed.dataset.classes == ["cat", "dog"] and parsed.features == ["a", "b"]
    from_csv = parse_csv(tmp_path, frame.to_csv(index=False)).dataset
    assert parsed.dataset.sha256 == from_csv.sha256


def test_parquet_that_expands_past_the_limit_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "zeros.parquet"
    pd.DataFrame({"a": np.zeros(200_000), "label": np.ones(200_000)}).to_parquet(path)
    assert path.stat().st_size < 100_000
    with pytest.raises(TooLarge):
        parse(path, "parquet", "zeros", target="label", limit=100_000)


def test_npz_with_integer_labels_and_image_shaped_features(tmp_path: Path) -> None:
    x = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2)
    path = write(tmp_path, "d.npz", npz_bytes(x=x, y=np.array([3, 1, 3, 1])))
    data = parse(path, "npz", "images").dataset
    assert data.feature_shape == [3, 2] and data.x.dtype == np.float32
    assert data.classes == ["1", "3"] and data.y.tolist() == [1, 0, 1, 0]


def test_npz_string_labels_and_float_targets(tmp_path: Path) -> None:
    x = np.ones((3, 2))
    labels = write(tmp_path, "l.npz", npz_bytes(x=x, y=np.array(["b", "a", "b"])))
    assert parse(labels, "npz", "l").dataset.classes == ["a", "b"]
    values = write(tmp_path, "v.npz", npz_bytes(x=x, y=np.array([[0.5, 1], [2, 3], [4, 5]])))
    data = parse(values, "npz", "v").dataset
    assert data.task == "regression" and data.target_shape == [2]


def test_npz_object_array_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (pytest.fail, ("the upload was unpickled",))

    content = npz_bytes(x=np.array([[Boom()], [Boom()]], dtype=object), y=np.array([0, 1]))
    error = refusal(parse, write(tmp_path, "evil.npz", content), "npz", "evil")
    assert "never Python objects" in error.detail and error.errors[0]["loc"] == ["file", "x"]


def test_a_pickle_named_npz_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "p.npz", pickle.dumps({"x": [[1]], "y": [0]}))
    assert "not an .npz" in refusal(parse, path, "npz", "p").detail


def test_npz_needs_x_and_y_with_matching_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "a.npz", npz_bytes(x_train=np.ones((2, 2)), y_train=np.ones(2)))
    assert "['x_train', 'y_train']" in refusal(parse, path, "npz", "a").detail
    path = write(tmp_path, "b.npz", npz_bytes(x=np.ones((3, 2)), y=np.ones(2)))
    assert "one entry per row of 'x' (3)" in refusal(parse, path, "npz", "b").detail
    path = write(tmp_path, "c.npz", npz_bytes(x=np.ones(3), y=np.ones(3)))
    assert "at least one feature axis" in refusal(parse, path, "npz", "c").detail


def test_npz_nan_is_refused_naming_row_and_index(tmp_path: Path) -> None:
    x = np.ones((3, 2, 2))
    x[2, 1, 0] = np.nan
    error = refusal(parse, write(tmp_path, "n.npz", npz_bytes(x=x, y=np.ones(3))), "npz", "n")
    assert "row 2 (at index [2, 1, 0])" in error.detail and error.errors[0]["loc"] == ["file", "x", 2]


def test_npz_refuses_a_target_field_naming_the_formats_that_take_one(tmp_path: Path) -> None:
    path = write(tmp_path, "t.npz", npz_bytes(x=np.ones((2, 1)), y=np.ones(2)))
    error = refusal(parse, path, "npz", "t", target="y")
    assert error.errors[0]["loc"] == ["target"]
    expected = "form field 'target' applies to .csv and .parquet files; .npz files hold their targets in array 'y'"
    assert error.detail == expected


def test_npz_that_expands_past_the_limit_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in ("x", "y"):
            buffer = io.BytesIO()
            np.save(buffer, np.zeros((100_000, 4)) if key == "x" else np.zeros(100_000))
            archive.writestr(f"{key}.npy", buffer.getvalue())
    assert path.stat().st_size < 20_000
    with pytest.raises(TooLarge):
        parse(path, "npz", "bomb", limit=20_000)


def test_the_same_data_hashes_the_same_whatever_the_file(tmp_path: Path) -> None:
    first = parse_csv(tmp_path, "a,label\n1,x\n2,y\n").dataset.sha256
    assert parse_csv(tmp_path, "a,label\n1.0,x\n2.0,y\n").dataset.sha256 == first
    assert parse_csv(tmp_path, "a,label\n1,x\n2,z\n").dataset.sha256 != first


def test_parquet_whose_row_groups_declare_more_than_the_limit_is_too_large(tmp_path: Path) -> None:
    """Few rows, so the cell count passes; the text the row groups declare, uncompressed, does not."""
    path = tmp_path / "text.parquet"
    frame = pd.DataFrame({"a": np.zeros(40), "label": [f"{i:04d}" + "z" * MB for i in range(40)]})
    pq.write_table(pa.Table.from_pandas(frame), path, use_dictionary=False, compression="zstd")
    assert path.stat().st_size < 100_000
    with pytest.raises(TooLarge, match="declares 4[0-9]{7} bytes of uncompressed data"):
        parse(path, "parquet", "text", target="label", limit=MB)


def test_parquet_nested_columns_are_refused_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"point": [{"x": 1.0, "y": 2.0}] * 2, "label": [0, 1]}), path)
    error = refusal(parse, path, "parquet", "nested", target="label")
    assert error.detail.startswith("column 'point' holds struct<x: double, y: double> values")
    assert error.errors[0]["loc"] == ["file", "point"]


def test_a_long_csv_label_does_not_widen_every_row(tmp_path: Path) -> None:
    """A fixed-width text array would give 100,000 rows the 100 KB width of one label: 40 GB."""
    text = "a,label\n" + "1,a\n" * 100_000 + f"2,{'b' * 100_000}\n"
    data = parse(write(tmp_path, "wide.csv", text.encode()), "csv", "wide", target="label", limit=MB).dataset
    assert [len(name) for name in data.classes or []] == [1, 100_000] and data.y.sum() == 1


def test_an_npz_member_that_is_no_npy_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "raw.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x", b"not an array")
        archive.writestr("y.npy", npz_member(np.zeros(2)))
    error = refusal(parse, path, "npz", "raw")
    assert error.detail.startswith("array 'x' is not a readable .npy array") and error.errors[0]["loc"] == ["file", "x"]


def npz_member(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
