"""HTTP-tier fixtures: the real app (real SQLite, real registry) through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support import iris_spec


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def capped_client(settings: Settings) -> Iterator[TestClient]:
    """The app with a request body cap (MAAS_MAX_REQUEST_MB) of about 10 KB, below the upload bodies sent to it."""
    with TestClient(create_app(settings.model_copy(update={"max_request_mb": 0.01}))) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose registry holds `iris-mlp` v1 and v2, trained for real by maas' own training code."""
    from app.datasets.builtin import load_builtin
    from app.registry import LocalRegistry
    from app.training.model_source import model_source
    from app.training.pipeline import Reporter, train
    from app.training.publish import publish_model
    from app.training.spec import TrainingSpec

    data_dir = tmp_path_factory.mktemp("trained")
    registry = LocalRegistry(Settings(data_dir=data_dir).resolved_registry_dir)
    data = load_builtin("iris")
    for job_id, epochs in (("job-1", 40), ("job-2", 5)):
        spec = TrainingSpec.model_validate(iris_spec(epochs))
        outcome = train(spec, data, None, reporter=Reporter(), source=model_source(spec, data.feature_shape))
        publish_model(registry, job_id, spec, data, outcome)
    return data_dir


@pytest.fixture
def served(trained_registry: Path, tmp_path: Path) -> Iterator[TestClient]:
    """An API-only app whose registry is a private copy of the trained one."""
    import shutil

    data_dir = tmp_path / "served"
    shutil.copytree(trained_registry, data_dir)
    with TestClient(create_app(Settings(data_dir=data_dir, workers=0, prewarm=False))) as test_client:
        yield test_client
