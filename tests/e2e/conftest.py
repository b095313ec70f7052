"""End-to-end fixtures: real `maas` processes training real Keras models on tiny data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One embedded-mode service (API + 1 worker slot) shared by a module's tests."""
    data_dir = tmp_path_factory.mktemp("maas")
    srv = Server(data_dir / "data", data_dir / "server.log")
    yield srv
    srv.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by MAAS_TEST_DATABASE_URL (`.ci/run` starts one)."""
    base = os.environ.get("MAAS_TEST_DATABASE_URL")
    if not base:
        pytest.skip("MAAS_TEST_DATABASE_URL is not set: no PostgreSQL server to test against (.ci/run starts one)")
    import psycopg

    name = f"maas_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
