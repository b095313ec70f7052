"""Fixtures shared by every tier: a fresh data dir per test and settings that point at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.s3 import new_bucket, s3_server

# gRPC off (MAAS_GRPC_PORT=0) in apps built by tests, unless a test turns it on: they would all want port 8001.
os.environ.setdefault("MAAS_GRPC_PORT", "0")
# Starlette's TestClient sends `Host: testserver` (and the in-process httpx clients `maas.test` or `maas`), which
# open mode refuses like any name that is not loopback: every Settings built in the tests (read from the
# environment) answers them. Not a product default.
os.environ.setdefault("MAAS_ALLOWED_HOSTS", "testserver,maas.test,maas")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """API-only settings (no workers) on a fresh data dir."""
    return Settings(data_dir=tmp_path / "data", workers=0, prewarm=False)


@pytest.fixture(scope="session")
def s3_env() -> Iterator[dict[str, str]]:
    """A local S3 server (moto, on 127.0.0.1) and the AWS variables that reach it, set for this process too."""
    with s3_server() as env:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            yield env


@pytest.fixture
def s3_bucket(s3_env: dict[str, str]) -> str:
    """`s3://<a fresh bucket>`."""
    return f"s3://{new_bucket(s3_env)}"
