"""docs/api.md is what a user reads: it names every path of the OpenAPI document the app serves, and every path it
names exists (so the page and the running service cannot drift apart silently)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

API_DOC = Path(__file__).parents[2] / "docs" / "api.md"
NOT_IN_OPENAPI = {"/openapi.json", "/docs", "/v2/health/*"}


def documented_paths(text: str) -> set[str]:
    """Every `/...` token inside an inline code span (fenced examples aside), without its query string."""
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return {token for span in spans for token in re.findall(r"(?:^|\s)(/[^\s?,\"']*)", span)}


def test_every_openapi_path_is_documented_and_every_documented_path_exists(client: TestClient) -> None:
    served = set(client.get("/openapi.json").json()["paths"])
    documented = documented_paths(API_DOC.read_text())
    assert sorted(served - documented) == []
    assert sorted(documented - served - NOT_IN_OPENAPI) == []
