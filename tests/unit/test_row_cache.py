"""A streamed dataset's row cache: a unit read back gives bitwise the arrays decoding gives, in the same chunks,
whatever order units were first read in, so a cached epoch is the decoded epoch; nothing from an earlier process
is trusted; no cache where the disk lacks room; no file left once the run ends."""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app import direct_io
from app.datasets.schemas import DatasetInfo
from app.datasets.streamed import RowSplit, StreamedDataset
from app.direct_io import O_DIRECT
from app.training.epochs import READ_ROWS, StreamedRows
from app.training.row_cache import READ_BUFFERS, Layout, RowCache, RowCaches

ROWS, FEATURES, GROUP, CHUNK = 1000, 5, 300, 128  # units of 300 rows (the last 100), read 128 rows at a time
Chunks = list[tuple[int, np.ndarray, np.ndarray]]


def dataset(folder: Path, *, task: str = "classification") -> StreamedDataset:
    """A Parquet file of ROWS rows in row groups of GROUP, and the record profiling would write for it."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(ROWS, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    frame["f0"] = np.arange(ROWS, dtype=np.float64)  # the row's index, to follow rows through an epoch
    frame["label"] = (
        np.array(["a", "b", "c"])[np.arange(ROWS) % 3] if task == "classification" else rng.normal(size=ROWS)
    )
    path = folder / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=GROUP)
    return StreamedDataset(
        DatasetInfo(
            id="00000000-0000-4000-8000-000000000000",
            name="rows",
            format="parquet",
            rows=ROWS,
            feature_shape=[FEATURES],
            task=task,
            classes=["a", "b", "c"] if task == "classification" else None,
            sha256="x",
            created_at=datetime.now(UTC),
            target="label",
            features=[f"f{i}" for i in range(FEATURES)],
            files=[f"file://{path}"],
        )
    )


def decoded(data: StreamedDataset) -> list[Chunks]:
    """Every unit's chunks, as decoding gives them."""
    return [list(data.unit_chunks(unit, batch_rows=CHUNK)) for unit in data.units]


def assert_same_chunks(got: Chunks, want: Chunks) -> None:
    assert [(row, len(x)) for row, x, _ in got] == [(row, len(x)) for row, x, _ in want], "the same chunks"
    for (_, x, y), (_, wx, wy) in zip(got, want, strict=True):
        assert x.dtype == wx.dtype and y.dtype == wy.dtype and x.shape == wx.shape and y.shape == wy.shape
        assert x.tobytes() == wx.tobytes() and y.tobytes() == wy.tobytes(), "bitwise the same rows"


def assert_read_twice_as_decoded(cache: RowCache, data: StreamedDataset, want: list[Chunks]) -> None:
    """Every unit read through the cache (decoded, and written), the dataset's file removed, every unit read again
    (from the cache alone): both times the chunks decoding gives."""
    first = [list(cache.unit_chunks(unit)) for unit in data.units]
    away(data)
    second = [list(cache.unit_chunks(unit)) for unit in data.units]
    for got_first, got_second, expected in zip(first, second, want, strict=True):
        assert_same_chunks(got_first, expected)
        assert_same_chunks(got_second, expected)


def away(data: StreamedDataset) -> None:
    """Remove the dataset's file: whatever reads a unit now reads it from the cache, or fails."""
    Path(data.files[0].removeprefix("file://")).unlink()


@contextmanager
def opened(path: Path, data: StreamedDataset) -> Iterator[RowCache]:
    """A fresh cache of `data` at `path` (the disk has room), closed however the test ends."""
    cache = RowCache.open(path, data, batch_rows=CHUNK)
    assert cache is not None
    try:
        yield cache
    finally:
        cache.close()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_unit_read_again_comes_back_from_the_cache_bitwise_as_decoded(tmp_path: Path, task: str) -> None:
    data = dataset(tmp_path, task=task)
    want = decoded(data)
    assert [len(chunks) for chunks in want] == [3, 3, 3, 1]
    with opened(tmp_path / "cache" / "rows.bin", data) as cache:
        assert_read_twice_as_decoded(cache, data, want)


def test_units_first_read_in_any_order_read_back_in_order_as_decoded(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    with opened(tmp_path / "rows.bin", data) as cache:
        for index in (2, 0, 3, 1):
            list(cache.unit_chunks(data.units[index]))
        away(data)
        again = [list(cache.unit_chunks(unit)) for unit in data.units]

    for got, expected in zip(again, want, strict=True):
        assert_same_chunks(got, expected)


def test_chunks_decoded_and_read_back_one_after_another_share_a_few_reused_buffers(tmp_path: Path) -> None:
    """A chunk's features decode straight into the record that is written (no copy between), and a record read
    back lands in memory used before: once a reader drops each chunk, both passes go round the same few
    page-aligned buffers, so the memory a job keeps after its first epoch is what the first epoch used."""
    data = dataset(tmp_path)
    want = decoded(data)
    buffers: list[weakref.ref[np.ndarray]] = []

    def read_all(cache: RowCache) -> None:
        for unit, expected in zip(data.units, want, strict=True):
            for (row, x, y), (want_row, wx, wy) in zip(cache.unit_chunks(unit), expected, strict=True):
                assert x.ctypes.data % mmap.PAGESIZE == 0
                assert row == want_row and x.tobytes() == wx.tobytes() and y.tobytes() == wy.tobytes()
                buffers.append(weakref.ref(memory_of(x)))

    with opened(tmp_path / "rows.bin", data) as cache:
        read_all(cache)  # decoded, and written
        away(data)
        read_all(cache)  # read back
        alive = [ref() for ref in buffers]
        assert len(alive) == 2 * sum(map(len, want)) and all(b is not None for b in alive), "kept for reuse"
        assert len({id(b) for b in alive}) <= READ_BUFFERS


def memory_of(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory `array` is a view of."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def test_a_unit_read_part_way_is_decoded_again_not_read_back_short(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    with opened(tmp_path / "rows.bin", data) as cache:
        reading = cache.unit_chunks(data.units[0])
        next(reading)
        reading.close()  # as a prefetcher that starts over drops its pass
        assert_same_chunks(list(cache.unit_chunks(data.units[0])), want[0])


def test_a_cached_epoch_is_the_decoded_epoch_batch_for_batch(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    split = RowSplit(0.2, 1.0, seed=4)  # a validation split's rows are masked out of each chunk
    plain = StreamedRows(data, split, lambda y: y)

    def epochs(rows: StreamedRows, numbers: Iterable[int]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        return [list(rows.batches(batch_size=64, seed=9, epoch=e, shuffle=True)) for e in numbers]

    want = epochs(plain, range(3))
    with RowCaches(tmp_path / "caches", batch_rows=READ_ROWS) as caches:
        cached = StreamedRows(data, split, lambda y: y, cache=caches.open(data))
        assert cached.cache is not None
        got = epochs(cached, [0])
        away(data)
        got += epochs(cached, [1, 2])

    for got_epoch, want_epoch in zip(got, want, strict=True):
        assert len(got_epoch) == len(want_epoch)
        for (x, y), (wx, wy) in zip(got_epoch, want_epoch, strict=True):
            assert x.tobytes() == wx.tobytes() and y.tobytes() == wy.tobytes()


def test_threads_reading_the_same_units_at_once_all_get_the_decoded_rows(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    results: dict[int, list[Chunks]] = {}

    def read(cache: RowCache, number: int) -> None:
        results[number] = [list(cache.unit_chunks(unit)) for _ in range(3) for unit in data.units]

    with opened(tmp_path / "rows.bin", data) as cache:
        threads = [threading.Thread(target=read, args=(cache, n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(results) == [0, 1, 2, 3]
    for chunks in results.values():
        for got, expected in zip(chunks, want * 3, strict=True):
            assert_same_chunks(got, expected)


def test_an_earlier_file_is_never_trusted(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    path = tmp_path / "rows.bin"
    path.write_bytes(b"\xff" * (ROWS * 100))  # what a killed process might have left
    with opened(path, data) as cache:
        assert path.stat().st_size == 0, "a fresh file"
        assert_same_chunks(list(cache.unit_chunks(data.units[1])), want[1])


def test_no_cache_where_the_disk_has_less_room_than_the_rows_and_a_margin(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    size = Layout.of(data, batch_rows=CHUNK).bytes
    assert size >= ROWS * (4 * FEATURES + 8), "float32 features, an int64 class index, and the records' padding"
    path = tmp_path / "cache" / "rows.bin"

    short = RowCache.open(path, data, batch_rows=CHUNK, free=lambda _folder: size + 999, margin=1000)
    enough = RowCache.open(path, data, batch_rows=CHUNK, free=lambda _folder: size + 1000, margin=1000)
    assert short is None and enough is not None
    enough.close()
    reserved = RowCache.open(path, data, batch_rows=CHUNK, reserved=1, free=lambda _f: size, margin=0)
    assert reserved is None, "room for the other caches too"
    assert not path.exists()

    with RowCaches(tmp_path / "caches", batch_rows=CHUNK, free=lambda _folder: 10) as caches:
        rows = StreamedRows(data, RowSplit(), lambda y: y, cache=caches.open(data))
        assert rows.cache is None
        assert sum(len(x) for x, _ in rows.batches(batch_size=100, seed=0, epoch=0, shuffle=True)) == ROWS


def test_the_cache_files_are_gone_when_the_run_ends_however_it_ends(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    folder = tmp_path / "job" / "row-cache"
    with pytest.raises(RuntimeError, match="training failed"), RowCaches(folder, batch_rows=CHUNK) as caches:
        cache = caches.open(data)
        assert cache is not None
        list(cache.unit_chunks(data.units[0]))
        assert cache.path.parent == folder and cache.path.stat().st_size > 0
        raise RuntimeError("training failed")
    assert not folder.exists()
    assert list(tmp_path.joinpath("job").iterdir()) == []

    with RowCaches(None, batch_rows=CHUNK) as off:
        assert off.open(data) is None, "MAAS_STREAM_CACHE=false"


def direct_flag(fd: int) -> bool:
    """Whether the open file `fd` bypasses the page cache, as the kernel reports it."""
    flags = next(line for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines() if line.startswith("flags"))
    return bool(int(flags.split()[1], 8) & O_DIRECT)


def refuses_direct_io(folder: Path) -> bool:
    try:
        os.close(os.open(folder / "probe", os.O_RDWR | os.O_CREAT | O_DIRECT, 0o600))
    except OSError:
        return True
    finally:
        (folder / "probe").unlink(missing_ok=True)
    return False


@pytest.mark.skipif(not O_DIRECT or not Path("/proc/self/fdinfo").is_dir(), reason="Linux's O_DIRECT and fdinfo")
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "no O_DIRECT"])
def test_the_cache_bypasses_the_page_cache_where_it_can_and_reads_back_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    if not direct:
        monkeypatch.setattr(direct_io, "O_DIRECT", 0)  # as on a system without it
    elif refuses_direct_io(tmp_path):
        pytest.skip(f"the filesystem of {tmp_path} refuses O_DIRECT")
    with opened(tmp_path / "rows.bin", data) as cache:
        assert cache.direct is direct and direct_flag(cache._descriptor) is direct
        assert_read_twice_as_decoded(cache, data, want)


def test_a_unit_cut_into_more_chunks_than_its_region_holds_is_decoded_every_time(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    want = decoded(data)
    layout = Layout.of(data, batch_rows=CHUNK)
    first_unit = (data.units[0].file, data.units[0].part)
    offset, _ = layout.regions[first_unit]
    small = Layout(layout.x_bytes, layout.y_bytes, {**layout.regions, first_unit: (offset, layout.record_bytes(CHUNK))})
    cache = RowCache(tmp_path / "rows.bin", data, batch_rows=CHUNK, layout=small)
    try:
        for unit, expected in zip(data.units, want, strict=True):
            assert_same_chunks(list(cache.unit_chunks(unit)), expected)
        away(data)
        for unit, expected in zip(data.units[1:], want[1:], strict=True):
            assert_same_chunks(list(cache.unit_chunks(unit)), expected)
        with pytest.raises(FileNotFoundError):
            list(cache.unit_chunks(data.units[0]))  # its region held one chunk of three: it reads the file again
    finally:
        cache.close()
