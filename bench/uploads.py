"""A resumable (tus) upload of a generated file of N GB through a real `maas serve` (API only) on loopback, and
what it costs the API process: its resident set before, and its peak (VmHWM, from /proc) after. The issue's
target is a 4 GB upload growing the API's RSS by less than 100 MB: the bytes must stream to disk, never pile up.

The file is sent as tus clients send big files: PATCHes of `--chunk-mb` each, every body streamed from a
generator (the client holds one 1 MiB block at a time). Its sha256, computed here as it is sent, must equal the
record's `file_sha256`. With no worker the dataset stays queued for profiling: only the upload is measured.

    .venv/bin/python bench/uploads.py [--gb 4] [--chunk-mb 512]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import serving  # bench/serving.py: this script's own directory comes first on sys.path

MAAS = str(Path(sys.executable).with_name("maas"))
BLOCK = 1 << 20
TUS = {"Tus-Resumable": "1.0.0"}
METADATA = {"filename": "big.parquet", "name": "bench-upload", "target": "label"}


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def blocks(block: bytes, size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """`size` bytes of `block` repeated, hashed as they go."""
    while size > 0:
        piece = block[: min(size, len(block))]
        digest.update(piece)
        size -= len(piece)
        yield piece


def upload(client: httpx.Client, total: int, chunk: int) -> tuple[str, str]:
    """The dataset id and the sha256 of what was sent."""
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in METADATA.items())
    created = client.post("/uploads", headers={**TUS, "Upload-Length": str(total), "Upload-Metadata": encoded})
    created.raise_for_status()
    location = created.headers["Location"]
    block = np.random.default_rng(0).bytes(BLOCK)
    digest = hashlib.sha256()
    for offset in range(0, total, chunk):
        size = min(chunk, total - offset)
        headers = {
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(size),
        }
        response = client.patch(location, content=blocks(block, size, digest), headers=headers)
        if response.status_code != 204:
            raise SystemExit(f"PATCH at {offset}: {response.status_code} {response.text}")
    return location.rsplit("/", 1)[-1], digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=4.0, help="size of the uploaded file, GiB")
    parser.add_argument("--chunk-mb", type=int, default=512, help="bytes per PATCH, MiB")
    args = parser.parse_args()
    total, chunk = int(args.gb * 2**30), args.chunk_mb * 2**20
    with tempfile.TemporaryDirectory(prefix="maas-bench-uploads-") as folder:
        port = serving.free_port()
        url = f"http://127.0.0.1:{port}"
        env = serving.api_only_env(Path(folder) / "data", MAAS_MAX_UPLOAD_GB=str(max(2 * args.gb, 1)))
        with (Path(folder) / "serve.log").open("wb") as log:
            maas = subprocess.Popen([MAAS, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                serving.wait_healthy(url, "/healthz", maas)
                with httpx.Client(base_url=url, timeout=600) as client:
                    before = memory_mib(maas.pid)
                    started = time.perf_counter()
                    dataset_id, sent_sha256 = upload(client, total, chunk)
                    seconds = time.perf_counter() - started
                    after = memory_mib(maas.pid)
                    record = client.get(f"/datasets/{dataset_id}").json()
            finally:
                maas.terminate()
                maas.wait(30)
    if record["file_sha256"] != sent_sha256:
        raise SystemExit(f"file_sha256 {record['file_sha256']} is not the sha256 of what was sent, {sent_sha256}")
    growth = after["VmHWM"] - before["VmRSS"]
    print("| upload | PATCH size | seconds | MiB/s | API RSS before | API peak before | API peak after | growth |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {total / 2**30:.2f} GiB | {args.chunk_mb} MiB | {seconds:.1f} | {total / 2**20 / seconds:.0f} "
        f"| {before['VmRSS']:.0f} MiB | {before['VmHWM']:.0f} MiB | {after['VmHWM']:.0f} MiB | {growth:.1f} MiB |"
    )
    print(f"\nfile_sha256 matches what was sent; target: growth < 100 MB (here {growth * 2**20 / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
