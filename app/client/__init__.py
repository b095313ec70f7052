"""The Python client of maas, on httpx: `MaasClient` (blocking) and `AsyncMaasClient` (asyncio).

from app.client import MaasClient
with MaasClient("http://127.0.0.1:8000") as maas:
    job = maas.train("examples/iris-mlp.json")
    for event in maas.follow(job["id"]):
        print(event.event, event.data)
    print(maas.predict("iris-mlp", [[5.1, 3.5, 1.4, 0.2]]).classes)
    sweep = maas.wait_sweep(maas.create_sweep("examples/digits-sweep.json")["id"])
    print(sweep["best"]["params"], sweep["model"])
"""

from app.client.aio import AsyncMaasClient
from app.client.calls import Prediction
from app.client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidRequest,
    MaasConnectionError,
    MaasError,
    NotFound,
    QueueFull,
    ServerError,
    TooLarge,
    Unauthorized,
)
from app.client.specs import load_spec
from app.client.sse import Event
from app.client.sync import MaasClient

__all__ = [
    "AsyncMaasClient",
    "BadRequest",
    "Conflict",
    "Event",
    "Forbidden",
    "InvalidRequest",
    "MaasClient",
    "MaasConnectionError",
    "MaasError",
    "NotFound",
    "Prediction",
    "QueueFull",
    "ServerError",
    "TooLarge",
    "Unauthorized",
    "load_spec",
]
