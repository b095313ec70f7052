"""TensorFlow Serving's REST API under /v1: errors are `{"error": ...}`, an invalid argument is 400."""

from __future__ import annotations

from app import errors
from app.api.protocols.base import Protocol
from app.api.protocols.envelopes import error_envelope
from app.serving.codecs import tfserving

TFSERVING = Protocol(
    name="tfserving",
    prefix="/v1",
    prediction_paths=(
        "/v1/models/{name}:predict",
        "/v1/models/{name}/versions/{version}:predict",
        "/v1/models/{name}/labels/{label}:predict",
    ),
    envelope=error_envelope,
    status_overrides={errors.Invalid: 400},  # TensorFlow Serving answers INVALID_ARGUMENT with 400
    codec=tfserving,
    routes="app.api.routes.tfserving",
    predicts_from_form_bodies=True,
)
