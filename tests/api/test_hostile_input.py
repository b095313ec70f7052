"""Hostile input through the real HTTP API: each answer is a 4xx that names the problem, the process's memory
stays flat, and the server still answers afterwards."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_train_api import assert_problem
from tests.support import digits_spec, iris_spec

GROWTH_LIMIT_KB = 150 * 1024


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM): the app under TestClient runs in it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux `clear_refs` 5), so that growth is measured from here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # where it cannot be reset, growth is measured from the peak so far, which only makes the test laxer


@pytest.fixture
def peak_growth_kb() -> Iterator[list[int]]:
    """After the test body, [growth of VmHWM in KiB] (filled in on exit), asserted under GROWTH_LIMIT_KB."""
    reset_peak_rss()
    before = peak_rss_kb()
    growth: list[int] = []
    yield growth
    growth.append(peak_rss_kb() - before)
    assert growth[0] < GROWTH_LIMIT_KB, f"peak RSS grew by {growth[0] // 1024} MiB"


def gzip_bomb(inflated_mib: int) -> bytes:
    """A gzip body of `inflated_mib` MiB of zeros, compressed a MiB at a time (never held inflated here)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(2**20)
    return b"".join([*(packer.compress(chunk) for _ in range(inflated_mib)), packer.flush()])


def test_a_gzip_bomb_on_v2_infer_is_413_and_memory_stays_flat(served: TestClient, peak_growth_kb: list[int]) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB inflated, about 1 MiB on the wire
    assert len(bomb) < 2 * 2**20
    response = served.post("/v2/models/iris-mlp/infer", content=bomb, headers={"content-encoding": "gzip"})
    assert response.status_code == 413, response.text
    assert set(response.json()) == {"error"}
    assert "inflates to more than" in response.json()["error"] and "MAAS_MAX_REQUEST_MB" in response.json()["error"]
    small = zlib.compress(b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}')
    after = served.post("/v2/models/iris-mlp/infer", content=small, headers={"content-encoding": "deflate"})
    assert after.status_code == 200, after.text


def sequential_config(*layers: dict[str, Any], features: int = 4) -> dict[str, Any]:
    """A `model.to_json()`-shaped Sequential config: an input of `features`, then `layers`."""
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, features]}}]
    entries += [{"module": "keras.layers", "registered_name": None, **layer} for layer in layers]
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": entries}}


SOFTMAX_HEAD = {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}


@pytest.fixture
def keras_imported(client: TestClient) -> None:
    """Keras imported in the API process (once, on the first keras_config), before memory or time is measured."""
    config = sequential_config(SOFTMAX_HEAD)
    assert_problem(client.post("/train", json=digits_spec(model={"keras_config": config})), 422)


def test_a_huge_keras_config_is_refused_fast_without_building_its_weights(
    client: TestClient, keras_imported: None, peak_growth_kb: list[int]
) -> None:
    embedding = {"class_name": "Embedding", "config": {"input_dim": 500_000_000, "output_dim": 8}}
    config = sequential_config(embedding, {"class_name": "Flatten", "config": {}}, SOFTMAX_HEAD)
    started = time.perf_counter()
    body = assert_problem(client.post("/train", json=iris_spec(model={"keras_config": config})), 422)
    assert time.perf_counter() - started < 1.0
    assert "4000000099 parameters, more than the limit of 20000000" in body["detail"]
    assert client.get("/jobs").json() == []
    assert client.post("/train", json=iris_spec()).status_code == 202


@pytest.mark.parametrize(
    ("layer", "named"),
    [
        ({"class_name": "IntegerLookup", "config": {"vocabulary": "/etc/passwd"}}, "IntegerLookup"),
        ({"class_name": "TextVectorization", "config": {"vocabulary": "/etc/passwd"}}, "TextVectorization"),
        ({"class_name": "TFSMLayer", "config": {"filepath": "/etc"}}, "TFSMLayer"),
        ({"class_name": "Dense", "module": "keras.src.layers", "config": {"units": 3}}, "keras.src.layers"),
        ({"class_name": "Dense", "registered_name": "my>Dense", "config": {"units": 3}}, "Dense"),
    ],
)
def test_keras_config_classes_off_the_allow_list_are_refused_revealing_nothing(
    client: TestClient, layer: dict[str, Any], named: str
) -> None:
    config = sequential_config(layer, SOFTMAX_HEAD)
    body = assert_problem(client.post("/train", json=iris_spec(model={"keras_config": config})), 422)
    assert named in body["detail"] and "not allowed" in body["detail"]
    assert body["errors"][0]["loc"] == ["model", "keras_config", "config", "layers", 1]
    assert "root:" not in json.dumps(body) and "/etc" not in json.dumps(body)
    assert client.get("/jobs").json() == []
    assert client.post("/train", json=iris_spec()).status_code == 202


def test_the_worker_side_build_checks_the_allow_list_itself() -> None:
    """A sweep's sampled spec reaches the worker without the API's checks: building refuses it there too."""
    from app.errors import InvalidSpec
    from app.training.keras_config import deserialize

    lookup = {"class_name": "IntegerLookup", "config": {"vocabulary": "/etc/passwd"}}
    with pytest.raises(InvalidSpec, match="IntegerLookup"):
        deserialize(sequential_config(lookup, SOFTMAX_HEAD))
    assert deserialize(sequential_config(SOFTMAX_HEAD)).count_params() == 15


def test_input_shape_on_the_first_layer_is_accepted_and_checked_against_the_data(client: TestClient) -> None:
    first = {"type": "dense", "units": 16, "activation": "relu", "input_shape": [4]}
    assert (
        client.post(
            "/train", json=iris_spec(model={"layers": [first, *iris_spec()["model"]["layers"][1:]]})
        ).status_code
        == 202
    )
    layers = digits_spec()["model"]["layers"]
    mismatch = [{**layers[0], "input_shape": [100]}, *layers[1:]]
    body = assert_problem(client.post("/train", json=digits_spec(model={"layers": mismatch})), 422)
    assert body["errors"] == [
        {
            "loc": ["model", "layers", 0, "input_shape"],
            "msg": "input_shape [100] does not match the dataset's features [64]",
        }
    ]
    late = [layers[0], {**layers[1], "input_shape": [128]}, *layers[2:]]
    body = assert_problem(client.post("/train", json=digits_spec(model={"layers": late})), 422)
    assert "first layer only" in body["detail"] and body["errors"][0]["loc"] == ["model", "layers", 1, "input_shape"]
    assert len(client.get("/jobs").json()) == 1


def test_made_up_model_names_share_one_metrics_label(served: TestClient) -> None:
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    infer = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}
    for i in range(30):
        assert served.post(f"/v1/models/made-up-{i}:predict", json=row).status_code == 404
        assert served.post(f"/v2/models/made-up-{i}/infer", json=infer).status_code == 404
        assert served.post("/predict", json={"model": f"made-up-{i}", **row}).status_code == 404
    served.request("FROBNICATE", "/predict")
    assert served.post("/v1/models/iris-mlp:predict", json=row).status_code == 200
    assert served.post("/v2/models/iris-mlp/infer", json=infer).status_code == 200
    assert served.post("/predict", json={"model": "iris-mlp", **row}).status_code == 200
    text = served.get("/metrics").text
    assert "made-up" not in text and "FROBNICATE" not in text
    assert 'model="_unknown",route="/v1/models/{name}:predict",status="404"} 30.0' in text
    assert 'model="_unknown",route="/v2/models/{name}/infer",status="404"} 30.0' in text
    assert 'route="/predict",status="404"} 30.0' in text  # /predict names its model once it has answered
    assert 'model="iris-mlp",route="/predict",status="200"} 1.0' in text


def test_a_5000_digit_version_is_a_4xx_naming_the_problem(served: TestClient) -> None:
    version = "7" * 5000
    for path in (f"/v1/models/iris-mlp/versions/{version}", f"/v2/models/iris-mlp/versions/{version}"):
        response = served.get(path)
        assert response.status_code == 404, response.text
        assert "5000 characters" in response.json()["error"] and "at most 18 digits" in response.json()["error"]
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    assert served.post(f"/v1/models/iris-mlp/versions/{version}:predict", json=row).status_code == 404
    body = assert_problem(served.get(f"/models/iris-mlp/versions/{version}"), 422)
    assert body["errors"][0]["loc"] == ["path", "version"]
    assert served.get("/v2/models/iris-mlp/versions/1").status_code == 200


@pytest.fixture
def product_defaults(tmp_path: Path) -> Iterator[TestClient]:
    """Open mode with the product's MAAS_ALLOWED_HOSTS (none), not the tests' `testserver`."""
    settings = Settings(data_dir=tmp_path / "open", workers=0, prewarm=False, allowed_hosts="")
    with TestClient(create_app(settings), base_url="http://localhost:8000") as client:
        yield client


def test_open_mode_answers_only_loopback_hosts_and_the_allowed_ones(
    product_defaults: TestClient, tmp_path: Path
) -> None:
    rebound = product_defaults.get("/models", headers={"host": "evil.example:8000"})
    body = assert_problem(rebound, 400)
    assert "'evil.example'" in body["detail"] and "MAAS_ALLOWED_HOSTS" in body["detail"]
    v2 = product_defaults.get("/v2/models/m", headers={"host": "evil.example"})
    assert v2.status_code == 400 and "MAAS_ALLOWED_HOSTS" in v2.json()["error"]
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost"):
        assert product_defaults.get("/models", headers={"host": host}).status_code == 200, host
    listed = Settings(data_dir=tmp_path / "listed", workers=0, prewarm=False, allowed_hosts="maas.internal")
    with TestClient(create_app(listed), base_url="http://MAAS.internal") as client:
        assert client.get("/models").status_code == 200
    keyed = Settings(data_dir=tmp_path / "keyed", workers=0, prewarm=False, allowed_hosts="", api_keys="k:admin")
    with TestClient(create_app(keyed), base_url="http://maas.example") as client:  # keys: any Host
        assert client.get("/models", headers={"x-api-key": "k"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/predict", "text/plain"),
        ("/train", "application/x-www-form-urlencoded"),
        ("/jobs/some-id/cancel", "text/plain;charset=UTF-8"),
        ("/v2/models/m/infer", "multipart/form-data; boundary=x"),
    ],
)
def test_open_mode_refuses_form_and_plain_text_posts(
    product_defaults: TestClient, path: str, content_type: str
) -> None:
    body = b'{"model": "iris-mlp", "instances": [[1, 2, 3, 4]]}'
    response = product_defaults.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == 415, response.text
    message = response.json().get("detail") or response.json().get("error")
    assert "expects JSON" in message and "application/json" in message
    upload = product_defaults.post("/datasets", files={"file": ("x.csv", b"a,b\n1,2\n")}, data={"target": "b"})
    assert upload.status_code != 415
    assert (
        product_defaults.post("/predict", content=body, headers={"content-type": "application/json"}).status_code == 404
    )


def test_open_mode_serves_tensorflow_servings_documented_curl_d(served: TestClient) -> None:
    """`curl -d '{"instances": ...}' .../v1/models/NAME:predict`, as TF Serving's docs write it, sends a form
    content type; those prediction paths change nothing, so open mode answers them."""
    body = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = served.post("/v1/models/iris-mlp:predict", content=body, headers=form)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"][0]) == 3
    assert served.post("/v1/models/iris-mlp/metadata", content=body, headers=form).status_code == 415
