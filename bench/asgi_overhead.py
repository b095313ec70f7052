"""Per-request CPU cost of each prediction route inside maas, without sockets or uvicorn: the ASGI app is called
directly with one 784-float request at a time (the MNIST MLP of `bench/serving.py`, served by ONNX Runtime).
What it measures is everything maas itself does per request: middleware, decoding, the batcher, the model
call, encoding. Prints the best of 7 rounds of 1000 requests per route, in microseconds.

    .venv/bin/python bench/asgi_overhead.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import MODEL, bodies, publish_mlp  # noqa: E402

ROUTES = {"predict": "/predict", "v1": f"/v1/models/{MODEL}:predict", "v2": f"/v2/models/{MODEL}/infer"}


async def call(app: Any, path: str, body: bytes) -> None:
    """One POST through the whole ASGI stack; fails unless it is answered 200."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()  # the client never disconnects
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise SystemExit(f"{path} answered {sent[0]['status']}: {sent[1].get('body', b'')[:200]!r}")


async def measure(app: Any, payloads: dict[str, bytes]) -> dict[str, float]:
    async with app.router.lifespan_context(app):
        for name, path in ROUTES.items():  # load and warm the model, fill caches
            for _ in range(200):
                await call(app, path, payloads[name])
        best = dict.fromkeys(ROUTES, float("inf"))
        for _ in range(7):
            for name, path in ROUTES.items():
                started = time.perf_counter()
                for _ in range(1000):
                    await call(app, path, payloads[name])
                best[name] = min(best[name], (time.perf_counter() - started) / 1000 * 1e6)
    return best


def main() -> None:
    from app.main import create_app
    from app.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="maas-bench-")) / "data"
    publish_mlp(data_dir)
    app = create_app(Settings(data_dir=data_dir, workers=0, prewarm=False, log_level="WARNING"))
    payloads = bodies(np.random.default_rng(1).random(784).tolist())
    for name, micros in asyncio.run(measure(app, payloads)).items():
        print(f"{ROUTES[name]:32} {micros:6.1f} us per request")


if __name__ == "__main__":
    main()
