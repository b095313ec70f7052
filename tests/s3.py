"""A local S3 server for the shared-storage tests: moto's server mode on 127.0.0.1, on a free port.

It stands in for AWS S3 or MinIO (a thing outside our control); boto, s3fs and every `maas` process the tests
start reach it through the standard AWS variables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """Run the server; yields the AWS environment variables that point a client at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        server.stop()


def new_bucket(env: dict[str, str]) -> str:
    """A fresh, empty bucket on the server; returns its name."""
    name = f"maas-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    client.create_bucket(Bucket=name)
    return name
