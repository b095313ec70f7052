"""What every maas RPC shares: domain errors as gRPC status codes with their message, Prometheus metrics per
method and model, and the table that registers a service's methods.

Domain code raises `app.errors.*`; this is the one place that maps them to status codes, as
`app/api/problems.py` does for HTTP.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor

from app import errors
from app.grpc.metrics import GrpcMetrics

log = logging.getLogger("maas.grpc")

CODE_BY_ERROR: dict[type[errors.MaasError], grpc.StatusCode] = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Invalid: grpc.StatusCode.INVALID_ARGUMENT,
    errors.MalformedBody: grpc.StatusCode.INVALID_ARGUMENT,
    errors.TooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.NotReady: grpc.StatusCode.UNAVAILABLE,
    errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.QueueFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
}

#: The model label of calls that name no model, or one that does not exist (label values stay bounded).
UNKNOWN_MODEL = "_unknown"


#: The metadata key of the client's request id, which makes an alias' canary split sticky (as `X-Request-Id`).
REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID = 200


@dataclass
class Note:
    """What a handler tells its call's metrics (the model, once the registry has confirmed it exists), and what
    the call's metadata tells the handler (the client's request id, if any)."""

    model: str = ""
    request_id: str | None = None


def client_request_id(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            return value[:MAX_REQUEST_ID] or None
    return None


Handler = Callable[[Any, Note], Awaitable[Any]]


def code_for(exc: errors.MaasError) -> grpc.StatusCode:
    """The code of `exc`'s nearest class in the table; INTERNAL for any other error."""
    for cls in type(exc).__mro__:
        if cls in CODE_BY_ERROR:
            return CODE_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def observed(method: str, handler: Handler, metrics: GrpcMetrics, *, names_model: bool = True) -> Callable[..., Any]:
    """`handler(request, note)` as a gRPC behaviour: errors become status codes, each call is counted and timed."""
    unknown = UNKNOWN_MODEL if names_model else ""

    async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        note = Note(request_id=client_request_id(context))
        code = grpc.StatusCode.OK
        try:
            return await handler(request, note)
        except errors.MaasError as exc:
            code = code_for(exc)
            await context.abort(code, exc.detail)
        except Exception:
            code = grpc.StatusCode.INTERNAL
            request_id = uuid.uuid4().hex
            log.exception("unhandled error in gRPC %s (request %s)", method, request_id)
            await context.abort(code, f"an unexpected error occurred; request id {request_id}")
        finally:
            metrics.observe(method, note.model or unknown, code.name, time.perf_counter() - started)

    return behaviour


def service_handler(service: ServiceDescriptor, behaviours: dict[str, Callable[..., Any]]) -> grpc.GenericRpcHandler:
    """The unary methods of `service` that maas implements; the others answer UNIMPLEMENTED."""
    table = {}
    for name, behaviour in behaviours.items():
        method = service.methods_by_name[name]
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        table[name] = grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=request.FromString, response_serializer=response.SerializeToString
        )
    return grpc.method_handlers_generic_handler(service.full_name, table)
