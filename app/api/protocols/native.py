"""The native API's prediction protocol: `POST /predict`, errors as problem documents."""

from __future__ import annotations

from app.api.protocols.base import Protocol
from app.api.protocols.envelopes import problem_envelope
from app.serving.codecs import native

NATIVE = Protocol(
    name="native",
    prefix="",
    prediction_paths=("/predict",),
    envelope=problem_envelope,
    status_overrides={},
    codec=native,
    routes="app.api.routes.predict",
)
