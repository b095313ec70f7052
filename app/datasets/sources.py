"""Registered sources: which URLs a dataset may be registered from (MAAS_DATASET_SOURCES), and the files a source
names, listed (never read) through fsspec.

A source is normalised before it is judged, so that no request can make the server read a path or URL of its
choosing: a `..` segment is refused outright, a local path is resolved (symlinks too) and so is every file
listed under it, and a prefix matches only at a path boundary (`file:///srv/data` does not allow
`file:///srv/database`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidSource
from app.storage import open_filesystem

GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class ListedSource:
    """A source's normalised URL, its files (URLs, sorted) and their total size in bytes."""

    source: str
    files: list[str]
    bytes: int


def _error(msg: str, field: str = "source") -> InvalidSource:
    return InvalidSource(msg, errors=[{"loc": [field], "msg": msg}])


def normalise(url: str) -> str:
    """`url` with a local path resolved (file:// URLs only) and any `..` segment refused."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not rest:
        raise _error(f"source {url!r} is not a URL; expected e.g. s3://bucket/prefix/ or file:///srv/data/x.parquet")
    if any(ord(char) < 32 for char in url):
        raise _error(f"source {url!r} holds a control character")
    if ".." in rest.split("/"):
        raise _error(f"source {url!r} holds a '..' segment; name the data by its own path")
    if scheme != "file":
        return url
    if not rest.startswith("/"):
        raise _error(f"source {url!r} must hold an absolute path (file:///...)")
    resolved = os.path.realpath(rest)
    return f"file://{resolved}{'/' if rest.endswith('/') and resolved != '/' else ''}"


def _under(url: str, prefix: str) -> bool:
    """Whether `url` lies under `prefix`, at a path boundary."""
    if url == prefix or url.rstrip("/") == prefix.rstrip("/"):
        return True
    return url.startswith(prefix if prefix.endswith("/") else f"{prefix}/")


def check_allowed(url: str, allowed: tuple[str, ...]) -> str:
    """The normalised `url` if it lies under one of the `allowed` prefixes; InvalidSource naming them else."""
    source = normalise(url)
    prefixes = [normalise(prefix) for prefix in allowed]
    if not any(_under(source, prefix) for prefix in prefixes):
        if not prefixes:
            msg = "this server allows no dataset sources (MAAS_DATASET_SOURCES is unset); upload the file instead"
        else:
            msg = f"source {url!r} is not under an allowed prefix; allowed: {prefixes} (MAAS_DATASET_SOURCES)"
        raise _error(msg)
    return source


def list_source(url: str, *, extension: str, allowed: tuple[str, ...]) -> ListedSource:
    """The files `url` names: itself for a file; every `extension` file under it (any depth) for a folder or a
    prefix ending in `/`; the `extension` files matching it for a glob. InvalidSource when it is not allowed or
    names no file."""
    source = check_allowed(url, allowed)
    scheme = source.partition("://")[0]
    try:
        found, extension = _found(source, extension)
    except (ValueError, OSError) as exc:  # an unknown scheme, a pattern fsspec refuses, storage refusing us
        raise _error(f"cannot list source {url!r}: {exc}") from exc
    files = {
        _url(scheme, name): int(entry.get("size") or 0)
        for name, entry in found.items()
        if entry.get("type") == "file" and name.lower().endswith(extension)
    }
    if scheme == "file":  # a symlink under the prefix may point outside it
        prefixes = [normalise(prefix) for prefix in allowed]
        files = {f: size for f, size in files.items() if any(_under(normalise(f), p) for p in prefixes)}
    if not files:
        what = f"no {extension} files under" if extension else "no file at"
        raise _error(f"{what} source {url!r}; expected a file, a folder or prefix ending in '/', or a glob")
    return ListedSource(source=source, files=sorted(files), bytes=sum(files.values()))


def _found(source: str, extension: str) -> tuple[dict[str, Any], str]:
    """fsspec's entries for what `source` names, and the extension they must have ('' for one named file)."""
    fs, path = open_filesystem(source)
    if GLOB_CHARS & set(path):
        return fs.glob(path, detail=True), extension
    if source.endswith("/") or fs.isdir(path):
        return fs.find(path, detail=True), extension
    return ({path: fs.info(path)} if fs.isfile(path) else {}), ""  # one file is read as the request's format


def _url(scheme: str, path: str) -> str:
    return f"{scheme}://{path}" if scheme != "file" else f"file://{path if path.startswith('/') else '/' + path}"
