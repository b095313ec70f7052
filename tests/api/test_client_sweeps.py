"""The Python clients' sweep calls against the real app with no workers (so sweeps stay as created): start one from a
dict, a JSON or a YAML file, list, read, cancel and wait for it; an invalid sweep is a typed 422 naming its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from app.client import AsyncMaasClient, InvalidRequest, MaasClient, NotFound
from app.main import create_app
from app.settings import Settings
from tests.api.test_sweeps_api import sweep

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-sweep.json"


def run(settings: Settings, scenario: Any) -> Any:
    """Run `scenario(client)` with an async client of an API-only app, lifespan and all."""

    async def main() -> Any:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with AsyncMaasClient("http://maas.test", transport=transport) as client:
                return await scenario(client)

    return anyio.run(main)


def test_a_sweep_is_created_listed_read_and_cancelled(settings: Settings) -> None:
    async def scenario(client: AsyncMaasClient) -> Any:
        started = await client.create_sweep(sweep(model_name="iris-tuned"))
        listed = await client.list_sweeps()
        running = await client.list_sweeps(status="running")
        read = await client.get_sweep(started["id"])
        cancelled = await client.cancel_sweep(started["id"])
        again = await client.cancel_sweep(started["id"])
        waited = await client.wait_sweep(started["id"], timeout=10)
        watched = [state async for state in client.watch_sweep(started["id"])]
        return started, listed, running, read, cancelled, again, waited, watched

    started, listed, running, read, cancelled, again, waited, watched = run(settings, scenario)

    assert started["status"] == "running" and started["model_name"] == "iris-tuned" and started["trials"] == []
    assert [s["id"] for s in listed] == [s["id"] for s in running] == [started["id"]]
    assert read["id"] == started["id"] and read["spec"]["search_space"] == started["spec"]["search_space"]
    assert cancelled["status"] == again["status"] == waited["status"] == "cancelled"
    assert [state["status"] for state in watched] == ["cancelled"]
    assert cancelled["model"] is None and cancelled["best"] is None


def test_sweeps_start_from_the_json_example_and_from_yaml(settings: Settings, tmp_path: Path) -> None:
    spec_file = tmp_path / "iris-sweep.yaml"
    spec_file.write_text(yaml.safe_dump(sweep(model_name="iris-from-yaml")))

    async def scenario(client: AsyncMaasClient) -> Any:
        example = await client.create_sweep(EXAMPLE)
        from_yaml = await client.create_sweep(spec_file)
        return example, from_yaml, await client.list_sweeps(limit=1)

    example, from_yaml, newest = run(settings, scenario)

    assert example["model_name"] == "digits-tuned" and example["spec"]["trials"] == 4
    searched = {"optimizer.learning_rate", "optimizer.name", "model.layers[0].units"}
    assert set(example["spec"]["search_space"]) == searched
    assert from_yaml["model_name"] == "iris-from-yaml"
    assert [s["id"] for s in newest] == [from_yaml["id"]]


def test_an_invalid_sweep_is_a_typed_422_and_an_unknown_one_a_404(settings: Settings) -> None:
    async def scenario(client: AsyncMaasClient) -> Any:
        bad = sweep(search_space={"optimizer.lr": {"type": "log_uniform", "low": 1e-4, "high": 0.1}})
        with pytest.raises(InvalidRequest) as invalid:
            await client.create_sweep(bad)
        with pytest.raises(NotFound) as missing:
            await client.get_sweep("no-such-sweep")
        return invalid.value, missing.value, await client.list_sweeps()

    invalid, missing, listed = run(settings, scenario)

    assert invalid.status == 422 and invalid.errors[0]["loc"][:2] == ["search_space", "optimizer.lr"]
    assert "lr" in invalid.detail
    assert missing.status == 404 and missing.code == "sweep_not_found"
    assert listed == []


def test_the_blocking_client_starts_cancels_and_waits_for_a_sweep(settings: Settings, tmp_path: Path) -> None:
    spec_file = tmp_path / "iris-sweep.json"
    spec_file.write_text(json.dumps(sweep(model_name="iris-blocking")))

    with TestClient(create_app(settings)) as http, MaasClient(http=http) as client:
        started = client.create_sweep(spec_file)
        client.cancel_sweep(started["id"])
        waited = client.wait_sweep(started["id"], timeout=10)
        watched = list(client.watch_sweep(started["id"]))
        listed = client.list_sweeps(status="cancelled")

    assert waited["status"] == "cancelled" and waited["model_name"] == "iris-blocking"
    assert [state["status"] for state in watched] == ["cancelled"]
    assert [s["id"] for s in listed] == [started["id"]]
