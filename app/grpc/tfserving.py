"""TensorFlow Serving's gRPC API: `PredictionService` (Predict, GetModelMetadata) and `ModelService`
(GetModelStatus). `model_spec` picks the version as the REST API's paths do: `version`, `version_label`
(= a registry alias) or neither (= latest). Metadata and status are the REST codec's documents, parsed into
the messages, so both transports say the same thing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from google.protobuf import json_format

from app.errors import InvalidInput, VersionNotFound
from app.grpc import messages, tensors
from app.grpc.calls import Note, observed, service_handler
from app.grpc.metrics import GrpcMetrics
from app.registry import Registry
from app.serving.codecs import tfserving
from app.serving.codecs.common import INPUT_NAME, OUTPUT_NAME
from app.serving.inference import Serving

SIGNATURE_DEF = "signature_def"


def _version(spec: Any) -> tuple[int | None, str | None]:
    """The `version` or `version_label` of a `ModelSpec` (neither: the latest)."""
    if spec.HasField("version"):
        if spec.version.value < 1:
            raise VersionNotFound(f"model {spec.name!r} has no version {spec.version.value}")
        return spec.version.value, None
    return None, spec.version_label or None


def _check_signature(name: str) -> None:
    if name and name not in tfserving.SIGNATURES:
        raise InvalidInput(f'Serving signature name: "{name}" not found in signature def; use "serving_default"')


def _spec(name: str, version: int, signature: str = "serving_default") -> Any:
    spec = messages.ModelSpec(name=name, signature_name=signature)
    spec.version.value = version
    return spec


class TfServingService:
    def __init__(self, serving: Serving) -> None:
        self.serving = serving

    @property
    def registry(self) -> Registry:
        return self.serving.registry

    async def predict(self, request: Any, note: Note) -> Any:
        started = time.perf_counter()
        spec = request.model_spec
        version, label = _version(spec)
        # a label's canary split: by the `x-request-id` metadata (the same version for the same id), else random
        loaded, route = await self.serving.route(spec.name, version, label, note.request_id)
        note.model = spec.name
        _check_signature(spec.signature_name)
        if list(request.inputs) != [INPUT_NAME]:
            raise InvalidInput(
                f"model {spec.name!r} has one input, {INPUT_NAME!r}; the request gives {sorted(request.inputs)}"
            )
        for name in request.output_filter:
            if name != OUTPUT_NAME:
                raise InvalidInput(
                    f"model {spec.name!r} has one output, {OUTPUT_NAME!r}; output_filter asks for {name!r}"
                )
        batch, as_content = tensors.from_tensor_proto(request.inputs[INPUT_NAME], loaded.meta)
        outputs = await self.serving.infer(loaded, batch)
        self.serving.served(loaded, route, batch, outputs, request_id=note.request_id, started=started)
        response = messages.PredictResponse(model_spec=_spec(spec.name, loaded.meta.version))
        response.outputs[OUTPUT_NAME].CopyFrom(tensors.to_tensor_proto(outputs, as_content=as_content))
        return response

    async def get_model_metadata(self, request: Any, note: Note) -> Any:
        fields = list(request.metadata_field)
        if not fields:
            raise InvalidInput("GetModelMetadataRequest must specify at least one metadata_field: signature_def")
        for field in fields:
            if field != SIGNATURE_DEF:
                raise InvalidInput(f"Metadata field {field} is not supported; the one supported is {SIGNATURE_DEF}")
        spec = request.model_spec
        _check_signature(spec.signature_name)
        document = await asyncio.to_thread(self._metadata, spec.name, *_version(spec))
        note.model = spec.name
        signatures = json_format.ParseDict(document["metadata"][SIGNATURE_DEF], messages.SignatureDefMap())
        response = messages.GetModelMetadataResponse(
            model_spec=_spec(spec.name, int(document["model_spec"]["version"]), "")
        )
        packed = response.metadata[SIGNATURE_DEF]
        packed.type_url = f"type.googleapis.com/{signatures.DESCRIPTOR.full_name}"
        packed.value = signatures.SerializeToString()
        return response

    def _metadata(self, name: str, version: int | None, label: str | None) -> dict[str, Any]:
        number = self.registry.resolve(name, version, label)
        return tfserving.model_metadata(self.registry.read_version(name, number))

    async def get_model_status(self, request: Any, note: Note) -> Any:
        spec = request.model_spec
        versions = await asyncio.to_thread(self._versions, spec.name, *_version(spec))
        note.model = spec.name
        return json_format.ParseDict(tfserving.model_status(versions), messages.GetModelStatusResponse())

    def _versions(self, name: str, version: int | None, label: str | None) -> list[int]:
        if version is None and label is None:
            return [v.version for v in self.registry.read_model(name).versions]
        return [self.registry.resolve(name, version, label)]

    def handlers(self, metrics: GrpcMetrics) -> list[grpc.GenericRpcHandler]:
        prediction = {
            "Predict": observed("Predict", self.predict, metrics),
            "GetModelMetadata": observed("GetModelMetadata", self.get_model_metadata, metrics),
        }
        status = {"GetModelStatus": observed("GetModelStatus", self.get_model_status, metrics)}
        return [
            service_handler(messages.PREDICTION_SERVICE, prediction),
            service_handler(messages.MODEL_SERVICE, status),
        ]
