"""The Open Inference Protocol (KServe V2, Triton, MLServer) under /v2: errors are `{"error": ...}`, a bad
request is 400 (as Triton answers it)."""

from __future__ import annotations

from app import errors
from app.api.protocols.base import Protocol
from app.api.protocols.envelopes import error_envelope
from app.serving.codecs import oip

OIP = Protocol(
    name="oip",
    prefix="/v2",
    prediction_paths=("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"),
    envelope=error_envelope,
    status_overrides={errors.Invalid: 400},
    codec=oip,
    routes="app.api.routes.oip",
)
