"""Schemathesis fuzzes every operation in /openapi.json: whatever it sends, the answer is never a 5xx."""

from __future__ import annotations

import shutil
from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from app.main import create_app
from app.settings import Settings

EXAMPLES_PER_OPERATION = 12

# A tus PATCH body is raw bytes, which schemathesis does not generate for a media type it does not know.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=256))


def test_no_request_gets_a_server_error(trained_registry: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(trained_registry, data_dir)  # a trained model, so that predictions reach a real model
    app = create_app(Settings(data_dir=data_dir, workers=0, prewarm=False, max_queued=10_000))
    with TestClient(app):  # runs the lifespan: store, registry, model cache
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20, [op.label for op in operations]
        for operation in operations:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def never_5xx(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            never_5xx()
