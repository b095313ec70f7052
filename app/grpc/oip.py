"""`inference.GRPCInferenceService` (KServe V2 / Triton): health, metadata and inference, with the messages and
service descriptor that `tritonclient` ships. Versions are resolved as on `/v2` (a number, or empty = latest).

Besides the protocol's reads and ModelInfer, RepositoryModelLoad and RepositoryModelUnload load and warm a
model's latest version or drop its loaded versions from this process's cache: they change server state, so
they need an admin key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from google.protobuf import json_format
from tritonclient.grpc import service_pb2 as pb

from app import __version__
from app.errors import NotFound
from app.grpc import tensors
from app.grpc.calls import Note, observed, service_handler
from app.grpc.metrics import GrpcMetrics
from app.serving.codecs import oip
from app.serving.inference import Serving
from app.serving.model_cache import LoadedModel
from app.serving.service import parse_version

SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
#: Methods that change what this server holds rather than read or predict.
ADMIN_METHODS = frozenset(f"/{SERVICE.full_name}/{m}" for m in ("RepositoryModelLoad", "RepositoryModelUnload"))
#: Methods that stay open without a key, as `/v2/health/*` does.
OPEN_METHODS = frozenset(f"/{SERVICE.full_name}/{m}" for m in ("ServerLive", "ServerReady"))


class InferenceService:
    def __init__(self, serving: Serving) -> None:
        self.serving = serving

    async def _model(self, name: str, version: str, note: Note) -> LoadedModel:
        loaded = await self.serving.model(name, parse_version(name, version or None))
        note.model = name
        return loaded

    async def server_live(self, _request: Any, _note: Note) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, _request: Any, _note: Note) -> Any:
        return pb.ServerReadyResponse(ready=await asyncio.to_thread(self.serving.registry.is_reachable))

    async def model_ready(self, request: Any, note: Note) -> Any:
        """Loads and warms the version, as `/v2/.../ready` does; an unknown one is not ready (as in Triton)."""
        try:
            await self._model(request.name, request.version, note)
        except NotFound:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def server_metadata(self, _request: Any, _note: Note) -> Any:
        return json_format.ParseDict(oip.server_metadata(__version__), pb.ServerMetadataResponse())

    async def model_metadata(self, request: Any, note: Note) -> Any:
        metadata = await asyncio.to_thread(self._metadata, request.name, request.version)
        note.model = request.name
        return json_format.ParseDict(metadata, pb.ModelMetadataResponse())

    def _metadata(self, name: str, version: str) -> dict[str, Any]:
        registry = self.serving.registry
        number = registry.resolve(name, parse_version(name, version or None))
        versions = [v.version for v in registry.read_model(name).versions]
        return oip.model_metadata(registry.read_version(name, number), versions)

    async def model_infer(self, request: Any, note: Note) -> Any:
        """As `/v2/.../infer`: the request's `id` (else the `x-request-id` metadata) names it in the payload log."""
        started = time.perf_counter()
        name = request.model_name
        loaded, route = await self.serving.route(name, parse_version(name, request.model_version or None), None)
        note.model = name
        call = tensors.decode_infer(request, loaded.meta)
        outputs = await self.serving.infer(loaded, call.batch)
        request_id = request.id or note.request_id
        self.serving.served(loaded, route, call.batch, outputs, request_id=request_id, started=started)
        return tensors.encode_infer(loaded.meta, call, outputs)

    async def load(self, request: Any, note: Note) -> Any:
        await self._model(request.model_name, "", note)
        return pb.RepositoryModelLoadResponse()

    async def unload(self, request: Any, note: Note) -> Any:
        cache = self.serving.model_cache
        await asyncio.to_thread(self.serving.registry.resolve, request.model_name)  # NotFound when there is none
        note.model = request.model_name
        for name, version in cache.loaded:
            if name == request.model_name:
                cache.evict(name, version)
        return pb.RepositoryModelUnloadResponse()

    def handler(self, metrics: GrpcMetrics) -> grpc.GenericRpcHandler:
        methods = {
            "ServerLive": (self.server_live, False),
            "ServerReady": (self.server_ready, False),
            "ServerMetadata": (self.server_metadata, False),
            "ModelReady": (self.model_ready, True),
            "ModelMetadata": (self.model_metadata, True),
            "ModelInfer": (self.model_infer, True),
            "RepositoryModelLoad": (self.load, True),
            "RepositoryModelUnload": (self.unload, True),
        }
        behaviours = {
            name: observed(name, fn, metrics, names_model=names_model) for name, (fn, names_model) in methods.items()
        }
        return service_handler(SERVICE, behaviours)
