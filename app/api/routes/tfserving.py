"""TensorFlow Serving's REST API (/v1): predict, model status and metadata, by version or label (= alias)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import RegistryDep, ServingDep
from app.api.fastpath import direct
from app.api.protocol_errors import protocol_errors, reply_response, unknown_path
from app.api.protocols import TFSERVING
from app.api.request_ids import request_id
from app.api.telemetry import MODEL_STATE_KEY
from app.registry import Registry
from app.serving.inference import Serving
from app.serving.service import parse_version, predict_tfserving

router = APIRouter(prefix=TFSERVING.prefix, tags=["tensorflow serving"])

guarded = protocol_errors(TFSERVING)


async def _predict(request: Request, serving: Serving, name: str, version: str | None, label: str | None) -> Response:
    setattr(request.state, MODEL_STATE_KEY, name)
    with serving.receiving():
        body = await request.body()
        reply = await predict_tfserving(serving, name, parse_version(name, version), label, body, request_id(request))
    return reply_response(reply)


def _versions(registry: Registry, name: str, version: str | None, label: str | None) -> list[int]:
    if version is None and label is None:
        return [v.version for v in registry.read_model(name).versions]
    return [registry.resolve(name, parse_version(name, version), label)]


def _metadata(registry: Registry, name: str, version: str | None, label: str | None) -> dict[str, Any]:
    number = registry.resolve(name, parse_version(name, version), label)
    return TFSERVING.codec.model_metadata(registry.read_version(name, number))


@router.post("/models/{name}:predict")
@direct
@guarded
async def predict_latest(name: str, request: Request, serving: ServingDep) -> Response:
    """Predict with the latest version: `{"instances": [...]}` (rows) or `{"inputs": ...}` (columnar)."""
    return await _predict(request, serving, name, None, None)


@router.post("/models/{name}/versions/{version}:predict")
@direct
@guarded
async def predict_version(name: str, version: str, request: Request, serving: ServingDep) -> Response:
    """Predict with one version."""
    return await _predict(request, serving, name, version, None)


@router.post("/models/{name}/labels/{label}:predict")
@direct
@guarded
async def predict_label(name: str, label: str, request: Request, serving: ServingDep) -> Response:
    """Predict with the version a label (a registry alias) points at."""
    return await _predict(request, serving, name, None, label)


@router.get("/models/{name}")
@guarded
def read_status(name: str, registry: RegistryDep) -> dict[str, Any]:
    """Status of every version of the model."""
    return TFSERVING.codec.model_status(_versions(registry, name, None, None))


@router.get("/models/{name}/versions/{version}")
@guarded
def read_version_status(name: str, version: str, registry: RegistryDep) -> dict[str, Any]:
    """Status of one version."""
    return TFSERVING.codec.model_status(_versions(registry, name, version, None))


@router.get("/models/{name}/labels/{label}")
@guarded
def read_label_status(name: str, label: str, registry: RegistryDep) -> dict[str, Any]:
    """Status of the version a label points at."""
    return TFSERVING.codec.model_status(_versions(registry, name, None, label))


@router.get("/models/{name}/metadata")
@guarded
def read_metadata(name: str, registry: RegistryDep) -> dict[str, Any]:
    """The latest version's `signature_def` (input and output dtype and shape)."""
    return _metadata(registry, name, None, None)


@router.get("/models/{name}/versions/{version}/metadata")
@guarded
def read_version_metadata(name: str, version: str, registry: RegistryDep) -> dict[str, Any]:
    """One version's `signature_def`."""
    return _metadata(registry, name, version, None)


@router.get("/models/{name}/labels/{label}/metadata")
@guarded
def read_label_metadata(name: str, label: str, registry: RegistryDep) -> dict[str, Any]:
    """The `signature_def` of the version a label points at."""
    return _metadata(registry, name, None, label)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unknown(path: str, request: Request) -> Response:
    """Anything else under /v1 is answered as TensorFlow Serving does, not as a problem document."""
    return unknown_path(TFSERVING, request.method, f"{TFSERVING.prefix}/{path}")
