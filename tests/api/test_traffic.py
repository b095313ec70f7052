"""Canary and shadow on an alias: the canary's share over many requests, sticky per request id, on every protocol
that names an alias; a shadow that fails never changes an answer; every answer names its version."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

MODEL = "iris-mlp"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def split(client: TestClient, **traffic: object) -> dict[str, object]:
    response = client.put(f"/models/{MODEL}/aliases/production", json={"version": 1, **traffic})
    assert response.status_code == 200, response.text
    return dict(response.json())


def predict(client: TestClient, request_id: str | None = None) -> dict[str, object]:
    headers = {"X-Request-Id": request_id} if request_id else {}
    body = {"model": MODEL, "alias": "production", "instances": ROWS}
    response = client.post("/predict", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_alias_shows_its_traffic_and_keeps_its_aliases(served: TestClient) -> None:
    answer = split(served, canary={"version": 2, "percent": 10}, shadow={"version": 2})
    assert answer["aliases"] == {"production": 1}
    model = served.get(f"/models/{MODEL}").json()
    assert model["aliases"] == {"production": 1}
    assert model["traffic"] == {
        "production": {"version": 1, "canary": {"version": 2, "percent": 10.0}, "shadow": {"version": 2}}
    }
    split(served)  # a move without a canary drops it
    assert served.get(f"/models/{MODEL}").json()["traffic"] == {
        "production": {"version": 1, "canary": None, "shadow": None}
    }


def test_a_canary_takes_its_share_sticky_per_request_id(served: TestClient) -> None:
    split(served, canary={"version": 2, "percent": 10})
    by_id = {f"req-{i}": predict(served, f"req-{i}")["version"] for i in range(2000)}
    share = Counter(by_id.values())[2] / len(by_id)
    assert 0.08 <= share <= 0.12
    for request_id, version in list(by_id.items())[:50]:  # the same id, the same version, on /predict and /v1
        assert predict(served, request_id)["version"] == version
        answer = served.post(
            f"/v1/models/{MODEL}/labels/production:predict",
            json={"instances": ROWS},
            headers={"X-Request-Id": request_id},
        )
        assert answer.headers["Model-Version"] == str(version)
        assert answer.headers["content-type"] == "application/json"


def test_without_request_ids_the_canary_share_is_drawn_at_random(served: TestClient) -> None:
    split(served, canary={"version": 2, "percent": 30})
    versions = Counter(predict(served)["version"] for _ in range(1500))
    assert set(versions) == {1, 2}
    assert 0.25 <= versions[2] / 1500 <= 0.35
    metrics = served.get("/metrics").text
    assert f'maas_version_requests_total{{model="{MODEL}",version="2"}} {float(versions[2])}' in metrics


def test_every_answer_names_its_version(served: TestClient) -> None:
    split(served, canary={"version": 2, "percent": 100})
    assert predict(served)["version"] == 2
    v1 = served.post(f"/v1/models/{MODEL}/versions/1:predict", json={"instances": ROWS})
    assert v1.headers["Model-Version"] == "1"
    v2 = served.post(
        f"/v2/models/{MODEL}/versions/1/infer",
        json={"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": ROWS}]},
    )
    assert v2.json()["model_version"] == "1"


def test_a_failing_shadow_never_changes_an_answer(served: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    split(served)
    before = predict(served, "r1")
    split(served, shadow={"version": 2})
    version_dir = Settings(data_dir=Path(served.app.state.settings.data_dir)).resolved_registry_dir / MODEL / "2"
    for path in version_dir.iterdir():  # v2 can no longer load: every shadow call fails
        if path.name != "metadata.json":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    with caplog.at_level(logging.WARNING, logger="maas.shadow"):
        after = [predict(served, "r1") for _ in range(5)]
        served.portal.call(served.app.state.serving.shadows.drain)  # type: ignore[union-attr]
    assert all(answer == before for answer in after)
    assert sum("shadow iris-mlp v2 failed" in r.getMessage() for r in caplog.records) == 5


def test_a_shadow_sees_the_same_inputs_and_both_outputs_are_logged(
    served: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    split(served, shadow={"version": 2})
    with caplog.at_level(logging.INFO, logger="maas.shadow"):
        answer = predict(served, "cmp-1")
        served.portal.call(served.app.state.serving.shadows.drain)  # type: ignore[union-attr]
    [record] = [r.getMessage() for r in caplog.records if "cmp-1" in r.getMessage()]
    assert answer["version"] == 1
    assert "v2 vs v1" in record and str(answer["predictions"][0][0])[:6] in record


def test_a_version_an_alias_splits_to_cannot_be_deleted(served: TestClient) -> None:
    split(served, canary={"version": 2, "percent": 5})
    assert served.delete(f"/models/{MODEL}/versions/2").status_code == 409
    assert served.delete(f"/models/{MODEL}/aliases/production").json()["traffic"] == {}
    assert served.delete(f"/models/{MODEL}/versions/2").status_code == 204


def test_a_canary_or_shadow_version_must_exist(served: TestClient) -> None:
    for traffic in ({"canary": {"version": 9, "percent": 5}}, {"shadow": {"version": 9}}):
        assert served.put(f"/models/{MODEL}/aliases/production", json={"version": 1, **traffic}).status_code == 404
    bad = {"version": 1, "canary": {"version": 2, "percent": 0}}
    assert served.put(f"/models/{MODEL}/aliases/production", json=bad).status_code == 422
