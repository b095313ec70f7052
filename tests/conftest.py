"""Fixtures shared by every tier: a fresh data dir per test and settings that point at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """API-only settings (no workers) on a fresh data dir."""
    return Settings(data_dir=tmp_path / "data", workers=0, prewarm=False)
