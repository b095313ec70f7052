"""What both clients share: the base URL and key, timeouts, and how a `Call` becomes an httpx request."""

from __future__ import annotations

import os
from typing import Any

import httpx

from app.client.calls import Call

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A stream is silent between epochs; the server sends a keep-alive comment every 15 s.
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=120.0)
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "pruned"})
SWEEP_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def client_options(url: str | None, api_key: str | None, timeout: Any, **httpx_options: Any) -> dict[str, Any]:
    """httpx client options: the URL and key default to `MAAS_URL` / `MAAS_API_KEY`."""
    key = api_key if api_key is not None else os.environ.get("MAAS_API_KEY")
    headers = {"User-Agent": "maas-client", **httpx_options.pop("headers", {})}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    base_url = (url or os.environ.get("MAAS_URL") or DEFAULT_URL).rstrip("/")
    return {"base_url": base_url, "headers": headers, "timeout": timeout or TIMEOUT, **httpx_options}


def request_options(call: Call) -> dict[str, Any]:
    return {
        "params": call.params,
        "content": call.content,
        "files": call.files,
        "data": call.data,
        "headers": call.headers,
    }
