"""Settings: every knob is a MAAS_* environment variable with a sane default; bad values are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MAAS_* variable of the calling shell leaks in, and relative defaults resolve inside tmp_path."""
    for key in list(os.environ):
        if key.upper().startswith("MAAS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_keep_everything_in_maas_data(tmp_path: Path) -> None:
    settings = Settings()

    data_dir = tmp_path.resolve() / "maas-data"
    assert settings.data_dir == Path("maas-data")
    assert settings.workers == 1
    assert settings.model_cache == 4
    assert settings.database_url is None
    assert settings.resolved_database_url == f"sqlite:///{data_dir / 'maas.db'}"
    assert settings.resolved_registry_dir == data_dir / "registry"


def test_data_dir_comes_from_maas_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAAS_DATA_DIR", str(tmp_path / "elsewhere"))

    settings = Settings()

    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'elsewhere' / 'maas.db'}"
    assert settings.resolved_registry_dir == tmp_path.resolve() / "elsewhere" / "registry"


def test_workers_comes_from_maas_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_WORKERS", "0")

    assert Settings().workers == 0


def test_database_url_comes_from_maas_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://maas:secret@db:5432/maas"
    monkeypatch.setenv("MAAS_DATABASE_URL", url)

    settings = Settings()

    assert settings.database_url == url
    assert settings.resolved_database_url == url


def test_registry_dir_comes_from_maas_registry_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAAS_REGISTRY_DIR", str(tmp_path / "shared" / "models"))

    assert Settings().resolved_registry_dir == tmp_path.resolve() / "shared" / "models"


def test_model_cache_comes_from_maas_model_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_MODEL_CACHE", "8")

    assert Settings().model_cache == 8


def test_arguments_win_over_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAAS_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("MAAS_WORKERS", "5")

    settings = Settings(data_dir=tmp_path / "from-test", workers=0)

    assert settings.data_dir == tmp_path / "from-test"
    assert settings.workers == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAAS_WORKERS", "-1"),
        ("MAAS_WORKERS", "65"),
        ("MAAS_WORKERS", "two"),
        ("MAAS_MODEL_CACHE", "0"),
        ("MAAS_MAX_PARAMS", "0"),
        ("MAAS_PORT", "70000"),
        ("MAAS_POLL_INTERVAL_S", "0"),
        ("MAAS_PUBLISH_BACKOFF_S", "0"),
        ("MAAS_PREWARM", "maybe"),
        ("MAAS_UPLOAD_EXPIRY_HOURS", "-1"),
        ("MAAS_CORS_ORIGINS", "app.example.com"),
        ("MAAS_CORS_ORIGINS", "https://app.example.com/uploads"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as excinfo:
        Settings()

    field = variable.removeprefix("MAAS_").lower()
    assert [error["loc"] for error in excinfo.value.errors()] == [(field,)]


def test_uploads_expire_after_a_day_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().upload_expiry_hours == 24
    monkeypatch.setenv("MAAS_UPLOAD_EXPIRY_HOURS", "0")
    assert Settings().upload_expiry_hours == 0


def test_cors_origins_are_a_comma_separated_list_of_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origin_list == ()
    monkeypatch.setenv("MAAS_CORS_ORIGINS", " https://app.example.com/ ,http://localhost:3000,")
    assert Settings().cors_origin_list == ("https://app.example.com", "http://localhost:3000")
    monkeypatch.setenv("MAAS_CORS_ORIGINS", "*")
    assert Settings().cors_origin_list == ("*",)


def test_a_cors_entry_that_is_no_origin_says_what_an_origin_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_CORS_ORIGINS", "https://app.example.com,app.example.com")
    with pytest.raises(ValidationError, match="https://app.example.com or http://localhost:3000.*'app.example.com'"):
        Settings()


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [f"MAAS_{name.upper()}" for name in Settings.model_fields if f"`MAAS_{name.upper()}`" not in readme]
    assert missing == []
