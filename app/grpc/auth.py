"""API keys on gRPC, with the HTTP API's roles: `authorization: Bearer KEY` or `x-api-key: KEY` metadata.

One interceptor for every method (so a new one is never left open). Both roles may call everything that reads
or predicts, which is all of gRPC but the methods that change what the server holds (`oip.ADMIN_METHODS`);
health checking and ServerLive / ServerReady stay open, as `/healthz` and `/v2/health/*` do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from app.grpc.oip import ADMIN_METHODS, OPEN_METHODS

#: `ApiKeys.role_of`: the role of a presented key, or None when it is no valid key.
RoleOf = Callable[[bytes], str | None]

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


def presented_key(metadata: Sequence[tuple[str, Any]] | None) -> bytes:
    authorization = key = b""
    for name, value in metadata or ():
        if name == "authorization":
            authorization = value.encode() if isinstance(value, str) else value
        elif name == "x-api-key":
            key = (value.encode() if isinstance(value, str) else value).strip()
    if authorization[:7].lower() == b"bearer ":
        return authorization[7:].strip()
    return key


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` (unary or streaming) that only refuses."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(refuse, request_deserializer=handler.request_deserializer)


class ApiKeyInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, role_of: RoleOf) -> None:
        self.role_of = role_of

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method in OPEN_METHODS or method in HEALTH_METHODS:
            return handler
        presented = presented_key(details.invocation_metadata)
        role = self.role_of(presented) if presented else None
        if role is None:
            detail = "invalid API key" if presented else "an API key is required: send 'authorization: Bearer KEY'"
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, detail)
        if role != "admin" and method in ADMIN_METHODS:
            detail = f"this key's role {role!r} may read and predict only; {method} needs 'admin'"
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, detail)
        return handler
