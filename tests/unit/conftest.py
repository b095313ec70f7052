"""Fixtures of the unit tier: each test gets its own data dir under tmp_path, a real SQLite file and a real registry.

Nothing here imports TensorFlow, FastAPI or an HTTP client; the unit tier stays fast and runs anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.jobs.store import JobStore
from app.registry.local import LocalRegistry


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "maas-data"
    path.mkdir()
    return path


@pytest.fixture
def database_url(data_dir: Path) -> str:
    """A SQLite URL with an absolute path, so that spawned processes open the very same file."""
    return f"sqlite:///{data_dir / 'maas.db'}"


@pytest.fixture
def store(database_url: str) -> Iterator[JobStore]:
    job_store = JobStore(database_url)
    yield job_store
    job_store.close()


@pytest.fixture
def registry_root(data_dir: Path) -> Path:
    return data_dir / "registry"


@pytest.fixture
def registry(registry_root: Path) -> LocalRegistry:
    return LocalRegistry(registry_root)
