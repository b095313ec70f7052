"""Webhooks: signed deliveries to a receiver on 127.0.0.1, retried when it refuses at first, and no target
outside MAAS_WEBHOOK_HOSTS."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.webhooks.signing import verify
from tests.support import iris_spec

SECRET = "s3cret"


class Receiver:
    """An HTTP server answering each POST with the next status of `statuses` (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes, int]] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = statuses.pop(0) if statuses else 200
                receiver.received.put((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self) -> tuple[dict[str, str], bytes, int]:
        return self.received.get(timeout=30)


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        workers=0,
        prewarm=False,
        webhook_hosts="127.0.0.1",
        webhook_poll_s=0.05,
        webhook_backoff_s=0.05,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def subscribe(client: TestClient, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, "events": events, "secret": SECRET})
    assert response.status_code == 201, response.text
    return response.json()


def settled(client: TestClient, hook_id: str) -> dict[str, Any]:
    """The webhook's one delivery once its state is written (just after the receiver answered)."""
    for _ in range(500):
        [delivery] = client.get(f"/webhooks/{hook_id}/deliveries").json()
        if delivery["status"] != "pending":
            return dict(delivery)
        threading.Event().wait(0.01)
    raise AssertionError("the delivery stayed pending")


def cancel_a_job(client: TestClient) -> str:
    job = client.post("/train", json=iris_spec()).json()
    assert client.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    return str(job["id"])


def test_a_cancelled_job_is_delivered_signed(hooked: TestClient) -> None:
    receiver = Receiver([])
    hook = subscribe(hooked, receiver.url, ["job.cancelled"])
    assert set(hook) == {"id", "url", "events", "created_at"}
    job_id = cancel_a_job(hooked)
    headers, body, _ = receiver.next()
    assert verify(SECRET, body, headers["Maas-Signature"])
    assert not verify("another secret", body, headers["Maas-Signature"])
    event = json.loads(body)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert (event["type"], event["data"]["job_id"], event["data"]["status"]) == ("job.cancelled", job_id, "cancelled")
    delivery = settled(hooked, hook["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"][0]["status_code"] == 200


def test_a_receiver_down_at_first_gets_the_event_later(hooked: TestClient) -> None:
    receiver = Receiver([503, 503])
    hook = subscribe(hooked, receiver.url, ["job.cancelled"])
    job_id = cancel_a_job(hooked)
    statuses = [receiver.next()[2] for _ in range(3)]
    assert statuses == [503, 503, 200]
    delivery = settled(hooked, hook["id"])
    assert delivery["event"]["data"]["job_id"] == job_id and delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 503, 200]


def test_an_event_goes_only_to_its_subscribers(hooked: TestClient) -> None:
    receiver = Receiver([])
    subscribe(hooked, receiver.url, ["job.failed"])
    subscribe(hooked, receiver.url, ["job.cancelled"])
    cancel_a_job(hooked)
    _, body, _ = receiver.next()
    assert json.loads(body)["type"] == "job.cancelled"
    assert receiver.received.empty()


def test_a_url_outside_the_allowed_hosts_is_refused(hooked: TestClient, settings: Settings) -> None:
    for url in ("http://169.254.169.254/latest", "http://localhost:9/x", "ftp://127.0.0.1/x", "http://u:p@127.0.0.1/"):
        response = hooked.post("/webhooks", json={"url": url, "events": ["job.failed"], "secret": SECRET})
        assert response.status_code == 422, url
    with TestClient(create_app(settings)) as closed:  # MAAS_WEBHOOK_HOSTS unset: no host at all
        response = closed.post("/webhooks", json={"url": "http://127.0.0.1/x", "events": ["job.failed"], "secret": "k"})
        assert response.status_code == 422
        assert "MAAS_WEBHOOK_HOSTS" in response.json()["detail"]


def test_webhooks_are_listed_and_deleted(hooked: TestClient) -> None:
    hook = subscribe(hooked, "http://127.0.0.1:9/x", ["alias.moved"])
    assert [h["id"] for h in hooked.get("/webhooks").json()] == [hook["id"]]
    assert "secret" not in hooked.get("/webhooks").json()[0]
    assert hooked.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert hooked.get("/webhooks").json() == []
    assert hooked.delete(f"/webhooks/{hook['id']}").status_code == 404
    assert hooked.get(f"/webhooks/{hook['id']}/deliveries").status_code == 404
