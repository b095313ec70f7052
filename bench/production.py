"""Production serving costs (issue 17): /predict at c=64 with payload logging at log_sample_rate 1.0 against off,
and the share a 10 % canary gets over 10,000 requests (with distinct X-Request-Ids, and without any).

Publishes the 784-128-64-10 MLP twice (bench/serving.py's `publish_mlp`), starts a real `maas serve` (API only)
on loopback, and loads /predict with wrk when installed, else a bounded async httpx client. Prints Markdown.

    .venv/bin/python bench/production.py [--duration 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import orjson
import serving  # bench/serving.py: this script's own directory comes first on sys.path

MODEL = serving.MODEL


def load(url: str, body: bytes, duration: float, workdir: Path) -> serving.Load:
    if shutil.which("wrk") is not None:
        return serving.wrk(url, body, 64, duration, workdir)
    return serving.httpx_load(url, body, 64, duration)


async def answered_by(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """The version that answered; a connection the server dropped (a keep-alive racing its close) is retried."""
    for _ in range(3):
        try:
            response = await client.post(url, content=body, headers=headers)
            return int(orjson.loads(response.content)["version"])
        except httpx.TransportError:
            continue
    raise RuntimeError(f"{url} failed three times")


def canary_split(url: str, body: bytes, requests: int, sticky: bool) -> Counter[int]:
    """Versions that answered `requests` requests through the alias, 64 at a time."""

    async def run() -> Counter[int]:
        counts: Counter[int] = Counter()
        queue = iter(range(requests))
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=60) as client:

            async def worker() -> None:
                for i in queue:
                    headers = {"content-type": "application/json"}
                    if sticky:
                        headers["x-request-id"] = f"bench-{i}"
                    counts[await answered_by(client, url, body, headers)] += 1

            await asyncio.gather(*(worker() for _ in range(64)))
        return counts

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per setting; the report shows medians")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="maas-bench-production-"))
    port = serving.free_port()
    env = serving.api_only_env(workdir / "data", MAAS_GRPC_PORT="0")
    serving.publish_mlp(workdir / "data")
    serving.publish_mlp(workdir / "data")
    log = (workdir / "maas.log").open("wb")
    maas = subprocess.Popen([serving.MAAS, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        serving.wait_healthy(url, "/healthz", maas)
        row = np.random.default_rng(2).random(784, dtype=np.float32).tolist()
        body = orjson.dumps({"model": MODEL, "version": 1, "instances": [row]})
        assert httpx.post(f"{url}/predict", content=body, timeout=60).status_code == 200
        runs: dict[float, list[serving.Load]] = {0.0: [], 1.0: []}
        for _ in range(args.rounds):  # interleaved, so a noisy moment hits both alike
            for rate in runs:
                httpx.put(f"{url}/models/{MODEL}/monitoring", json={"log_sample_rate": rate}, timeout=60)
                runs[rate].append(load(f"{url}/predict", body, args.duration, workdir))
        split = {"version": 1, "canary": {"version": 2, "percent": 10}}
        httpx.put(f"{url}/models/{MODEL}/monitoring", json={"log_sample_rate": 0.0}, timeout=60)
        assert httpx.put(f"{url}/models/{MODEL}/aliases/production", json=split, timeout=120).status_code == 200
        alias_body = orjson.dumps({"model": MODEL, "alias": "production", "instances": [row]})
        shares = {sticky: canary_split(f"{url}/predict", alias_body, 10_000, sticky) for sticky in (True, False)}
    finally:
        maas.terminate()
        maas.wait(timeout=30)
    report(runs, shares, args)


def report(runs: dict[float, list[serving.Load]], shares: dict[bool, Counter[int]], args: argparse.Namespace) -> None:
    off, on = serving.median_load(runs[0.0]), serving.median_load(runs[1.0])
    print(f"/predict at c=64, {args.rounds} x {args.duration:g} s each (medians):\n")
    print("| log_sample_rate | requests/s | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|")
    for rate, cell in ((0.0, off), (1.0, on)):
        print(f"| {rate} | {cell.rps:.0f} | {cell.p50_ms:.2f} | {cell.p99_ms:.2f} | {cell.errors} |")
    print(f"\nlogging on / off: {on.rps / off.rps:.2f}x (target >= 0.9x)\n")
    print("| 10 % canary, 10,000 requests | v1 | v2 (canary) | canary share |\n|---|---:|---:|---:|")
    for sticky, counts in shares.items():
        label = "distinct X-Request-Id" if sticky else "no request id (random)"
        print(f"| {label} | {counts[1]} | {counts[2]} | {100 * counts[2] / sum(counts.values()):.2f} % |")


if __name__ == "__main__":
    sys.exit(main())
