"""NPZ uploads: array `x` (rows first, numbers) and array `y` (class labels or regression targets).

Read with `allow_pickle=False`, so an object array is refused and a crafted file can never run code here; the
members' sizes are read from the zip directory, and the shapes of 'x' and 'y' from their `.npy` headers, before any
data is decompressed, so a small archive cannot expand without bound.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from app.datasets.checks import check_finite_array, rejected
from app.datasets.formats import ParsedUpload, UploadRequest
from app.datasets.targets import encode_targets
from app.datasets.types import Dataset
from app.errors import TooLarge

NUMBER_KINDS = "biuf"
LABEL_KINDS = "biufUS"
ARRAYS = ("x", "y")
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def read_npz(path: Path, request: UploadRequest) -> ParsedUpload:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise rejected(f"cannot read the file as .npz: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise rejected("the file is a single .npy array, not an .npz archive holding arrays 'x' and 'y'")
    with archive:
        if not {"x", "y"} <= set(archive.files):
            raise rejected(f"an .npz upload must hold arrays 'x' and 'y'; this one holds {sorted(archive.files)}")
        x, y = _array(archive, "x"), _array(archive, "y")
    x = _features(x)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise rejected(f"array 'y' must have one entry per row of 'x' ({x.shape[0]}); got shape {list(y.shape)}", "y")
    if y.dtype.kind not in LABEL_KINDS:
        raise rejected(f"array 'y' must hold numbers, booleans or strings; its dtype is {y.dtype}", "y")
    y, task, classes = encode_targets(y, request.task, "array 'y'", "y")
    return ParsedUpload(Dataset(request.name, x, y, task, classes), None)


def check_archive(path: Path, max_bytes: int) -> None:
    """Refuse a file that is no zip archive, whose members add up to more than `max_bytes`, or whose arrays 'x'
    and 'y' declare in their `.npy` headers more than that (413), Python objects or more than their member holds
    (422): np.load allocates the declared shape before it reads a byte of data."""
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
            if expanded > max_bytes:
                raise TooLarge(f"the .npz archive expands to {expanded} bytes, more than {max_bytes} accepted")
            for key in ARRAYS:
                member = _member(archive, key)
                if member is not None:
                    _check_declared(archive, member, key, max_bytes)
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise rejected(f"the file is not an .npz (zip) archive: {exc}") from exc


def _member(archive: zipfile.ZipFile, key: str) -> zipfile.ZipInfo | None:
    """The member np.load reads for `key`: the exact name first, then the name with `.npy`."""
    names = set(archive.namelist())
    name = key if key in names else f"{key}.npy"
    return archive.getinfo(name) if name in names else None


def _check_declared(archive: zipfile.ZipFile, member: zipfile.ZipInfo, key: str, max_bytes: int) -> None:
    shape, dtype = _header(archive, member, key)
    if dtype.hasobject:
        raise rejected(f"array {key!r} has dtype {dtype}: arrays hold numbers or strings, never Python objects", key)
    size = math.prod(shape) * dtype.itemsize
    declared = f"array {key!r} declares shape {list(shape)} of {dtype}, {size} bytes"
    if size > max_bytes:
        raise TooLarge(f"{declared} in memory, more than the {max_bytes} accepted")
    if size > member.file_size:
        raise rejected(f"{declared}, but its member holds only {member.file_size} bytes", key)


def _header(archive: zipfile.ZipFile, member: zipfile.ZipInfo, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a member's `.npy` header declares, read without reading its data."""
    with archive.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version not in HEADER_READERS:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _fortran_order, dtype = HEADER_READERS[version](stream)
        except ValueError as exc:
            raise rejected(f"array {key!r} is not a readable .npy array: {exc}", key) from exc
    return shape, dtype


def _array(archive: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        msg = f"cannot read array {key!r} ({exc}); arrays must hold numbers or strings, never Python objects"
        raise rejected(msg, key) from exc


def _features(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind not in NUMBER_KINDS:
        raise rejected(f"array 'x' must hold numbers; its dtype is {x.dtype}", "x")
    if x.ndim < 2 or x.shape[0] == 0:
        msg = f"array 'x' must have one row per example and at least one feature axis; got shape {list(x.shape)}"
        raise rejected(msg, "x")
    with np.errstate(over="ignore"):  # out-of-range values become inf, reported next
        features = x.astype(np.float32)
    check_finite_array(features, "x")
    return features
