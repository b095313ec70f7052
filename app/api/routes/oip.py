"""The Open Inference Protocol (/v2; KServe V2, Triton, MLServer): health, metadata, readiness and inference,
with Triton's binary tensor data extension."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app import __version__
from app.api.deps import RegistryDep, ServingDep
from app.api.fastpath import direct
from app.api.protocol_errors import protocol_errors, reply_response, unknown_path
from app.api.protocols import OIP
from app.api.telemetry import MODEL_STATE_KEY
from app.registry import Registry
from app.serving.inference import Serving
from app.serving.service import infer_oip, inflate_oip, parse_version

router = APIRouter(prefix=OIP.prefix, tags=["open inference protocol"])

guarded = protocol_errors(OIP)


async def _infer(request: Request, serving: Serving, name: str, version: str | None) -> Response:
    setattr(request.state, MODEL_STATE_KEY, name)
    encoding, header_length = _protocol_headers(request)
    with serving.receiving():
        body = await inflate_oip(serving, await request.body(), encoding)
        return reply_response(await infer_oip(serving, name, parse_version(name, version), body, header_length))


def _protocol_headers(request: Request) -> tuple[str | None, str | None]:
    """`Content-Encoding` and `Inference-Header-Content-Length`, in one pass over the raw (lowercased) headers
    rather than through Starlette's case-insensitive mapping: this is on every inference request's path."""
    encoding = header_length = None
    for key, value in request.scope["headers"]:
        if key == b"content-encoding":
            encoding = value.decode("latin-1")
        elif key == b"inference-header-content-length":
            header_length = value.decode("latin-1")
    return encoding, header_length


def _metadata(registry: Registry, name: str, version: str | None) -> dict[str, Any]:
    number = registry.resolve(name, parse_version(name, version))
    versions = [v.version for v in registry.read_model(name).versions]
    return OIP.codec.model_metadata(registry.read_version(name, number), versions)


async def _ready(serving: Serving, name: str, version: str | None) -> dict[str, Any]:
    await serving.model(name, parse_version(name, version))  # ready = loaded and warm, so load it now
    return {"name": name, "ready": True}


@router.get("")
def read_server_metadata() -> dict[str, Any]:
    """Server name, version and protocol extensions."""
    return OIP.codec.server_metadata(__version__)


@router.get("/health/live")
def read_live() -> dict[str, bool]:
    """The server is alive."""
    return {"live": True}


@router.get("/health/ready")
def read_ready(registry: RegistryDep) -> Response:
    """The server can serve models (its registry is reachable)."""
    ready = registry.is_reachable()
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@router.get("/models/{name}")
@guarded
def read_model_metadata(name: str, registry: RegistryDep) -> dict[str, Any]:
    """The latest version's inputs and outputs (datatype, shape with -1 for the batch) and all versions."""
    return _metadata(registry, name, None)


@router.get("/models/{name}/versions/{version}")
@guarded
def read_version_metadata(name: str, version: str, registry: RegistryDep) -> dict[str, Any]:
    """One version's inputs and outputs."""
    return _metadata(registry, name, version)


@router.get("/models/{name}/ready")
@guarded
async def read_model_ready(name: str, serving: ServingDep) -> dict[str, Any]:
    """Loads and warms the latest version; 200 once it can answer at once."""
    return await _ready(serving, name, None)


@router.get("/models/{name}/versions/{version}/ready")
@guarded
async def read_version_ready(name: str, version: str, serving: ServingDep) -> dict[str, Any]:
    """Loads and warms one version; 200 once it can answer at once."""
    return await _ready(serving, name, version)


@router.post("/models/{name}/infer")
@direct
@guarded
async def infer_latest(name: str, request: Request, serving: ServingDep) -> Response:
    """Inference with the latest version; JSON or binary tensor data (`Inference-Header-Content-Length`)."""
    return await _infer(request, serving, name, None)


@router.post("/models/{name}/versions/{version}/infer")
@direct
@guarded
async def infer_version(name: str, version: str, request: Request, serving: ServingDep) -> Response:
    """Inference with one version."""
    return await _infer(request, serving, name, version)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unknown(path: str, request: Request) -> Response:
    """Anything else under /v2 is answered `{"error": ...}`, as the protocol's errors are."""
    return unknown_path(OIP, request.method, f"{OIP.prefix}/{path}")
