"""One flow for every protocol: decode the payload into a batch checked against the version's input, run it with
concurrent requests through the batcher, encode the rows back. Knows nothing about HTTP.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from app.errors import VersionNotFound
from app.serving.codecs import native, oip, tfserving
from app.serving.inference import Serving


@dataclass(frozen=True)
class Reply:
    """An encoded answer, the model it came from (for metrics) and protocol headers."""

    body: bytes
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


MAX_VERSION_DIGITS = 18  # any version number maas gives fits an int64


def parse_version(name: str, version: str | None) -> int | None:
    """A version given in a URL path; a non-number, or one longer than any version can be (Python refuses to
    read a number of over 4,300 digits), is a version that does not exist."""
    if version is None:
        return None
    if len(version) > MAX_VERSION_DIGITS:
        raise VersionNotFound(
            f"model {name!r} has no version {version[:20]!r}... ({len(version)} characters): a version is a "
            f"number of at most {MAX_VERSION_DIGITS} digits"
        )
    if not (version.isascii() and version.isdigit()) or int(version) < 1:
        raise VersionNotFound(f"model {name!r} has no version {version!r}")
    return int(version)


async def predict_native(serving: Serving, body: bytes, request_id: str | None = None) -> Reply:
    """`POST /predict`; the answer's `version` is the version that served it (an alias' canary, maybe)."""
    started = time.perf_counter()
    request = native.decode(body)
    loaded, route = await serving.route(request.model, request.version, request.alias, request_id)
    batch = native.to_batch(request.instances, loaded.meta)
    outputs = await serving.infer(loaded, batch)
    serving.served(loaded, route, batch, outputs, request_id=request_id, started=started)
    return Reply(native.encode(loaded.meta, outputs), request.model)


async def predict_tfserving(
    serving: Serving, name: str, version: int | None, label: str | None, body: bytes, request_id: str | None = None
) -> Reply:
    """`POST /v1/models/{name}[/versions/{v} | /labels/{label}]:predict`; header `Model-Version` names the
    version that served it."""
    started = time.perf_counter()
    loaded, route = await serving.route(name, version, label, request_id)
    call = tfserving.decode_predict(body, loaded.meta)
    outputs = await serving.infer(loaded, call.batch)
    serving.served(loaded, route, call.batch, outputs, request_id=request_id, started=started)
    return Reply(tfserving.encode_predict(call, outputs), name, {"Model-Version": str(loaded.meta.version)})


async def inflate_oip(serving: Serving, body: bytes, encoding: str | None) -> bytes:
    """A /v2 body before its `Content-Encoding`; inflating up to MAAS_MAX_REQUEST_MB takes milliseconds, so an
    encoded body is inflated off the event loop (a plain one, the usual case, goes straight through)."""
    if encoding in oip.IDENTITY:
        return body
    return await asyncio.to_thread(oip.decompress, body, encoding, serving.max_request_bytes)


async def infer_oip(serving: Serving, name: str, version: int | None, body: bytes, header_length: str | None) -> Reply:
    """`POST /v2/models/{name}[/versions/{v}]/infer`, with or without binary tensor data."""
    started = time.perf_counter()
    loaded, route = await serving.route(name, version, None)
    call = oip.decode_infer(body, header_length, loaded.meta)
    outputs = await serving.infer(loaded, call.batch)
    serving.served(loaded, route, call.batch, outputs, request_id=call.id or None, started=started)
    encoded, json_length = oip.encode_infer(loaded.meta, call, outputs)
    if json_length is None:
        return Reply(encoded, name)
    headers = {"Inference-Header-Content-Length": str(json_length)}
    return Reply(encoded, name, headers, "application/octet-stream")
