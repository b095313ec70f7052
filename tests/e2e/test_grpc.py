"""gRPC through a real `maas serve`: the stock Triton client (raw tensors) and raw ModelInferRequests (typed
contents), TensorFlow Serving's own stubs, health and reflection answer what `/predict` does, on the same
process, model cache and batcher; errors are status codes with clear messages; keys and roles as over HTTP."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import orjson
import pytest
import tritonclient.grpc as triton
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_digits
from tritonclient.grpc import service_pb2 as oip
from tritonclient.grpc import service_pb2_grpc as oip_grpc
from tritonclient.utils import InferenceServerException

from tests.e2e.server import Server, free_port
from tests.support import digits_spec

X = load_digits().data[:8].astype(np.float32)
ADMIN, PREDICT = "admin-key", "predict-key"
AS_PREDICT = {"authorization": f"Bearer {PREDICT}"}
MD = (("authorization", f"Bearer {PREDICT}"),)


def start(data_dir: Path, log: Path, **env: str) -> tuple[Server, str]:
    """`maas serve` with gRPC on a free port and API keys; its HTTP client sends the admin key."""
    port = free_port()
    keys = f"{ADMIN}:admin,{PREDICT}:predict"
    server = Server(data_dir, log, MAAS_GRPC_PORT=str(port), MAAS_API_KEYS=keys, **env)
    server.http.headers["authorization"] = f"Bearer {ADMIN}"
    return server, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grpc")


@pytest.fixture(scope="module")
def served(root: Path) -> Iterator[tuple[Server, str]]:
    """A service whose worker trained `digits-mlp` v1 (alias `production`) and v2; at most 100 rows per request
    and 0.5 MiB per message. Batches wait up to 3 s for requests whose body is still being received (only the
    batching test sends such requests)."""
    server, target = start(
        root / "data",
        root / "server.log",
        MAAS_MAX_INSTANCES="100",
        MAAS_MAX_REQUEST_MB="0.5",
        MAAS_BATCH_MAX_DELAY_MS="10000",
    )
    for epochs in (3, 1):
        server.wait_finished(server.train(digits_spec(fit={"epochs": epochs, "batch_size": 64}))["id"])
    assert server.http.put("/models/digits-mlp/aliases/production", json={"version": 1}).status_code == 200
    yield server, target
    server.stop()


@pytest.fixture
def channel(served: tuple[Server, str]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(served[1]) as channel:
        yield channel


@pytest.fixture
def client(served: tuple[Server, str]) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(served[1])
    yield client
    client.close()


def predict(server: Server, rows: np.ndarray, **which: Any) -> np.ndarray:
    body = {"model": "digits-mlp", "instances": rows.tolist(), **which}
    response = server.http.post("/predict", json=body, headers=AS_PREDICT)
    assert response.status_code == 200, response.text
    return np.array(response.json()["predictions"], dtype=np.float32)


def triton_input(rows: np.ndarray, datatype: str = "FP32") -> triton.InferInput:
    tensor = triton.InferInput("input", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows)
    return tensor


def typed_request(rows: np.ndarray, datatype: str, field: str, version: str = "") -> Any:
    request = oip.ModelInferRequest(model_name="digits-mlp", model_version=version, id="typed-1")
    tensor = request.inputs.add(name="input", datatype=datatype, shape=rows.shape)
    getattr(tensor.contents, field).extend(rows.ravel().tolist())
    return request


def tf_serving_request(rows: np.ndarray, **model_spec: str) -> Any:
    """A TensorFlow Serving PredictRequest to digits-mlp (and `model_spec`'s other fields) with `rows` as its
    input's tensor_content."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest(model_spec={"name": "digits-mlp", **model_spec})
    request.inputs["input"].CopyFrom(tf.make_tensor_proto(rows))
    return request


# --- the same numbers as /predict ------------------------------------------------------------------------


def test_stock_triton_grpc_client_sends_raw_tensors_and_gets_what_predict_answers(
    served: tuple[Server, str], client: triton.InferenceServerClient
) -> None:
    server, _ = served
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("digits-mlp", headers=AS_PREDICT)
    assert not client.is_model_ready("digits-mlp", "9", headers=AS_PREDICT)

    latest = client.infer("digits-mlp", [triton_input(X)], headers=AS_PREDICT, request_id="r-1")
    assert latest.get_response().model_version == "2" and latest.get_response().id == "r-1"
    np.testing.assert_array_equal(latest.as_numpy("output_0"), predict(server, X))

    wanted = [triton.InferRequestedOutput("output_0")]
    first = client.infer("digits-mlp", [triton_input(X)], model_version="1", outputs=wanted, headers=AS_PREDICT)
    assert first.get_response().model_version == "1"
    np.testing.assert_array_equal(first.as_numpy("output_0"), predict(server, X, version=1))
    as_fp64 = client.infer("digits-mlp", [triton_input(X.astype(np.float64), "FP64")], headers=AS_PREDICT)
    np.testing.assert_array_equal(as_fp64.as_numpy("output_0"), predict(server, X))


@pytest.mark.parametrize(
    ("datatype", "field", "dtype"),
    [
        ("FP32", "fp32_contents", np.float32),
        ("FP64", "fp64_contents", np.float64),
        ("INT32", "int_contents", np.int32),
        ("INT64", "int64_contents", np.int64),
    ],
)
def test_typed_contents_of_each_datatype_answer_what_predict_does(
    served: tuple[Server, str], channel: grpc.Channel, datatype: str, field: str, dtype: type
) -> None:
    server, _ = served
    stub = oip_grpc.GRPCInferenceServiceStub(channel)

    response = stub.ModelInfer(typed_request(X.astype(dtype), datatype, field, "1"), metadata=MD)

    assert (response.model_name, response.model_version, response.id) == ("digits-mlp", "1", "typed-1")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("output_0", "FP32", [8, 10])]
    outputs = np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(8, 10)
    np.testing.assert_array_equal(outputs, predict(server, X, version=1))


def test_tensorflow_serving_stubs_predict_by_version_label_and_latest(
    served: tuple[Server, str], channel: grpc.Channel
) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    server, _ = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = tf_serving_request(X, signature_name="serving_default")

    latest = stub.Predict(request, metadata=MD)
    assert latest.model_spec.version.value == 2
    np.testing.assert_array_equal(tf.make_ndarray(latest.outputs["output_0"]), predict(server, X))

    request.model_spec.version_label = "production"
    labelled = stub.Predict(request, metadata=MD)
    assert labelled.model_spec.version.value == 1
    np.testing.assert_array_equal(tf.make_ndarray(labelled.outputs["output_0"]), predict(server, X, alias="production"))

    request.model_spec.version.value = 2
    request.inputs["input"].Clear()
    request.inputs["input"].dtype = tf.float32.as_datatype_enum
    request.inputs["input"].tensor_shape.dim.add(size=8)
    request.inputs["input"].tensor_shape.dim.add(size=64)
    request.inputs["input"].float_val.extend(X.ravel().tolist())
    by_version = stub.Predict(request, metadata=MD)
    assert by_version.model_spec.version.value == 2
    assert len(by_version.outputs["output_0"].float_val) == 80  # answered as it was asked
    np.testing.assert_array_equal(tf.make_ndarray(by_version.outputs["output_0"]), predict(server, X, version=2))


def test_a_labels_canary_is_sticky_per_x_request_id_as_over_rest(
    served: tuple[Server, str], channel: grpc.Channel
) -> None:
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    server, _ = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = tf_serving_request(X[:1], version_label="production")
    canary = {"version": 1, "canary": {"version": 2, "percent": 50}}
    assert server.http.put("/models/digits-mlp/aliases/production", json=canary).status_code == 200
    try:
        by_id = {}
        for i in range(40):
            metadata = (*MD, ("x-request-id", f"sticky-{i}"))
            versions = {stub.Predict(request, metadata=metadata).model_spec.version.value for _ in range(3)}
            assert len(versions) == 1, f"sticky-{i} was answered by versions {versions}"
            by_id[f"sticky-{i}"] = versions.pop()
        assert set(by_id.values()) == {1, 2}
        for request_id in list(by_id)[:10]:  # the same split as REST's for the same id
            headers = {**AS_PREDICT, "X-Request-Id": request_id}
            body = {"instances": X[:1].tolist()}
            answer = server.http.post("/v1/models/digits-mlp/labels/production:predict", json=body, headers=headers)
            assert int(answer.headers["Model-Version"]) == by_id[request_id]
    finally:
        assert server.http.put("/models/digits-mlp/aliases/production", json={"version": 1}).status_code == 200


def test_model_infer_is_payload_logged_under_its_request_id(
    served: tuple[Server, str], client: triton.InferenceServerClient
) -> None:
    server, _ = served
    assert server.http.put("/models/digits-mlp/monitoring", json={"log_sample_rate": 1.0}).status_code == 200
    try:
        client.infer("digits-mlp", [triton_input(X[:2])], model_version="1", headers=AS_PREDICT, request_id="log-1")
    finally:
        assert server.http.put("/models/digits-mlp/monitoring", json={"log_sample_rate": 0.0}).status_code == 200
    [logged] = server.http.get("/models/digits-mlp/versions/1/payloads", params={"limit": 1}).json()
    assert logged["request_id"] == "log-1"
    np.testing.assert_allclose(logged["inputs"], X[:2])


def test_metadata_and_status_say_what_the_rest_apis_say(served: tuple[Server, str], channel: grpc.Channel) -> None:
    from google.protobuf import json_format
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        prediction_service_pb2_grpc,
    )

    server, target = served
    client = triton.InferenceServerClient(target)
    try:
        metadata = client.get_model_metadata("digits-mlp", headers=AS_PREDICT, as_json=True)
        assert client.get_server_metadata(headers=AS_PREDICT).name == "maas"
    finally:
        client.close()
    rest = server.http.get("/v2/models/digits-mlp", headers=AS_PREDICT).json()
    assert metadata["versions"] == rest["versions"] == ["1", "2"]
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "64"]}]

    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name, request.model_spec.version_label = "digits-mlp", "production"
    answer = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(request, metadata=MD)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert answer.metadata["signature_def"].Unpack(signatures) and answer.model_spec.version.value == 1
    rest = server.http.get("/v1/models/digits-mlp/labels/production/metadata", headers=AS_PREDICT).json()
    printed = json_format.MessageToDict(
        signatures, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    assert printed == rest["metadata"]["signature_def"]

    status = model_service_pb2_grpc.ModelServiceStub(channel)
    every = status.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "digits-mlp"}), metadata=MD
    )
    assert [(s.version, s.state) for s in every.model_version_status] == [(2, 30), (1, 30)]  # 30 = AVAILABLE
    one = get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "digits-mlp", "version_label": "production"})
    assert [s.version for s in status.GetModelStatus(one, metadata=MD).model_version_status] == [1]


# --- errors ------------------------------------------------------------------------------------------------


def infer_error(client: triton.InferenceServerClient, rows: np.ndarray, **kwargs: Any) -> InferenceServerException:
    datatype = kwargs.pop("datatype", "FP32")
    with pytest.raises(InferenceServerException) as caught:
        client.infer(kwargs.pop("model", "digits-mlp"), [triton_input(rows, datatype)], headers=AS_PREDICT, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("rows", "kwargs", "status", "message"),
    [
        (np.ones((2, 3), np.float32), {}, "INVALID_ARGUMENT", r"expects \[-1, 64\]"),
        (np.ones((2, 64), np.uint8), {"datatype": "UINT8"}, "INVALID_ARGUMENT", r"'UINT8' is not supported.*FP32"),
        (np.full((1, 64), np.nan, np.float32), {}, "INVALID_ARGUMENT", "NaN or infinite"),
        (X, {"model": "no-such-model"}, "NOT_FOUND", "no model named 'no-such-model'"),
        (X, {"model_version": "9"}, "NOT_FOUND", "has no version"),
        (X, {"model_version": "latest"}, "NOT_FOUND", "has no version 'latest'"),
        (np.ones((101, 64), np.float32), {}, "RESOURCE_EXHAUSTED", r"101 rows.*100 \(MAAS_MAX_INSTANCES\)"),
        (np.ones((1, 200_000), np.float32), {}, "RESOURCE_EXHAUSTED", "larger than max"),
    ],
    ids=["shape", "dtype", "nan", "model", "version", "not-a-version", "rows", "message-size"],
)
def test_bad_model_infer_calls_get_a_status_code_and_say_what_was_expected(
    client: triton.InferenceServerClient, rows: np.ndarray, kwargs: dict[str, Any], status: str, message: str
) -> None:
    error = infer_error(client, rows, **kwargs)

    assert error.status() == f"StatusCode.{status}"
    assert re.search(message, error.message()), error.message()


def test_bad_tensorflow_serving_calls_get_a_status_code(channel: grpc.Channel) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def code_of(call: Any, request: Any) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as caught:
            call(request, metadata=MD)
        return caught.value.code(), caught.value.details()

    request = tf_serving_request(X, version_label="staging")
    assert code_of(stub.Predict, request) == (
        grpc.StatusCode.NOT_FOUND,
        "model 'digits-mlp' has no alias 'staging'; it has ['production']",
    )
    request.model_spec.version_label = "production"
    request.inputs["input"].CopyFrom(tf.make_tensor_proto([["a"] * 64]))
    code, message = code_of(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "DT_STRING is not supported" in message
    request.inputs["input"].CopyFrom(tf.make_tensor_proto(X[:, :10]))
    code, message = code_of(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "expects [-1, 64]" in message
    request.model_spec.signature_name = "classify"
    assert code_of(stub.Predict, request)[0] == grpc.StatusCode.INVALID_ARGUMENT
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "digits-mlp"})
    assert code_of(stub.GetModelMetadata, metadata)[0] == grpc.StatusCode.INVALID_ARGUMENT  # no metadata_field


# --- keys and roles ----------------------------------------------------------------------------------------


def status_of(call: Any, request: Any, key: str | None) -> str:
    metadata = () if key is None else (("authorization", f"Bearer {key}"),)
    try:
        call(request, metadata=metadata)
    except grpc.RpcError as error:
        return error.code().name
    return "OK"


@pytest.mark.parametrize(
    ("key", "infer", "unload"),
    [
        (None, "UNAUTHENTICATED", "UNAUTHENTICATED"),
        ("wrong-key", "UNAUTHENTICATED", "UNAUTHENTICATED"),
        (PREDICT, "OK", "PERMISSION_DENIED"),
        (ADMIN, "OK", "OK"),
    ],
    ids=["no-key", "wrong-key", "predict-key", "admin-key"],
)
def test_keys_and_roles_are_those_of_http(channel: grpc.Channel, key: str | None, infer: str, unload: str) -> None:
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    stub = oip_grpc.GRPCInferenceServiceStub(channel)
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus
    reads = get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "digits-mlp"})

    assert status_of(stub.ModelInfer, typed_request(X, "FP32", "fp32_contents"), key) == infer
    assert status_of(stub.ServerMetadata, oip.ServerMetadataRequest(), key) == infer
    assert status_of(status, reads, key) == infer
    assert (
        status_of(stub.RepositoryModelUnload, oip.RepositoryModelUnloadRequest(model_name="digits-mlp"), key) == unload
    )
    assert status_of(stub.ServerLive, oip.ServerLiveRequest(), key) == "OK"  # open, as /v2/health/live
    assert status_of(stub.ServerReady, oip.ServerReadyRequest(), key) == "OK"


def test_the_key_may_also_come_as_x_api_key(channel: grpc.Channel) -> None:
    stub = oip_grpc.GRPCInferenceServiceStub(channel)

    response = stub.ServerMetadata(oip.ServerMetadataRequest(), metadata=(("x-api-key", PREDICT),))

    assert response.name == "maas"


# --- health, reflection, metrics ---------------------------------------------------------------------------


def test_health_checking_answers_without_a_key(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_and_describes_every_service(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    asks = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="tensorflow.serving.PredictionService"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="inference.GRPCInferenceService"),
    ]

    listed, tf_serving, inference = stub.ServerReflectionInfo(iter(asks), metadata=MD)

    assert {s.name for s in listed.list_services_response.service} == {
        "inference.GRPCInferenceService",
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(f)
        for f in tf_serving.file_descriptor_response.file_descriptor_proto
    ]
    services = {s.name: [m.name for m in s.method] for f in files for s in f.service}
    assert services["PredictionService"] == ["Predict", "GetModelMetadata"]
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(f)
        for f in inference.file_descriptor_response.file_descriptor_proto
    ]
    assert any(m.name == "ModelInfer" for f in files for s in f.service for m in s.method)


def samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics by (name, labels)."""
    families = text_string_to_metric_families(server.http.get("/metrics").text)
    return {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}


def sample(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_calls_per_method_and_model_with_unknown_names_bounded(
    served: tuple[Server, str], client: triton.InferenceServerClient
) -> None:
    server, _ = served
    client.infer("digits-mlp", [triton_input(X)], headers=AS_PREDICT)
    infer_error(client, X, model="made-up-name-1")

    found = samples(server)

    calls = "maas_grpc_requests_total"
    assert sample(found, calls, method="ModelInfer", model="digits-mlp", code="OK") >= 1
    assert sample(found, calls, method="ModelInfer", model="_unknown", code="NOT_FOUND") >= 1
    assert not any(dict(labels).get("model") == "made-up-name-1" for _, labels in found)
    latency = "maas_grpc_request_duration_seconds_count"
    assert sample(found, latency, method="ModelInfer", model="digits-mlp") >= 1


# --- one batcher for both transports ----------------------------------------------------------------------


def batch_counts(server: Server) -> tuple[float, float]:
    """(model calls, requests served by them) of digits-mlp v2 so far."""
    found = samples(server)
    return tuple(
        sample(found, f"maas_batch_requests_{kind}", model="digits-mlp", version="2") for kind in ("count", "sum")
    )  # type: ignore[return-value]


async def backlog_reaches(http: httpx.AsyncClient, *, receiving: int, queued: int, timeout_s: float = 30) -> None:
    """Until /metrics shows that many requests being received and rows queued in the batcher."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        found = {
            s.name: s.value
            for f in text_string_to_metric_families((await http.get("/metrics")).text)
            for s in f.samples
        }
        if (found.get("maas_requests_receiving"), found.get("maas_batch_queued_rows")) == (receiving, queued):
            return
    raise AssertionError(f"the batcher never held {receiving} receiving request(s) and {queued} queued row(s)")


def test_grpc_and_http_requests_for_one_version_share_one_model_call(served: tuple[Server, str]) -> None:
    server, target = served
    triton.InferenceServerClient(target).infer("digits-mlp", [triton_input(X)], headers=AS_PREDICT)  # loaded

    async def burst() -> tuple[httpx.Response, list[Any]]:
        """An HTTP request whose body is held back while 8 gRPC requests queue, then let go."""
        headers_sent, go = asyncio.Event(), asyncio.Event()
        content = orjson.dumps({"model": "digits-mlp", "instances": X[:1].tolist()})

        async def body() -> AsyncIterator[bytes]:
            headers_sent.set()
            await go.wait()
            yield content

        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http, grpc.aio.insecure_channel(target) as ch:
            headers = {**AS_PREDICT, "Content-Length": str(len(content))}
            post = asyncio.ensure_future(http.post("/predict", content=body(), headers=headers))
            await headers_sent.wait()
            await backlog_reaches(http, receiving=1, queued=0)  # the server waits for the body
            stub = oip_grpc.GRPCInferenceServiceStub(ch)
            calls = [
                stub.ModelInfer(typed_request(X[i : i + 1], "FP32", "fp32_contents"), metadata=MD) for i in range(8)
            ]
            infers = asyncio.gather(*calls)
            await backlog_reaches(http, receiving=1, queued=8)  # the gRPC rows wait for the held body
            go.set()
            return await post, await infers

    before = batch_counts(server)
    response, answers = asyncio.run(burst())
    calls, requests = (a - b for a, b in zip(batch_counts(server), before, strict=True))

    expected = predict(server, X)
    assert response.status_code == 200
    np.testing.assert_array_equal(np.array(response.json()["predictions"], dtype=np.float32), expected[:1])
    for i, answer in enumerate(answers):
        np.testing.assert_array_equal(np.frombuffer(answer.raw_output_contents[0], "<f4"), expected[i])
    assert (calls, requests) == (1, 9)


# --- shutdown ---------------------------------------------------------------------------------------------


def test_sigterm_drains_calls_in_flight_then_exits_cleanly(
    served: tuple[Server, str], root: Path, tmp_path: Path
) -> None:
    shutil.copytree(root / "data" / "registry", tmp_path / "data" / "registry")  # a second server, API only
    server, target = start(tmp_path / "data", tmp_path / "server.log", MAAS_WORKERS="0")
    outcomes: list[str] = []
    answered = threading.Event()

    def keep_calling() -> None:
        with grpc.insecure_channel(target) as channel:
            stub = oip_grpc.GRPCInferenceServiceStub(channel)
            while True:
                code = status_of(stub.ModelInfer, typed_request(X, "FP32", "fp32_contents"), PREDICT)
                outcomes.append(code)
                answered.set()
                if code != "OK":
                    return

    callers = [threading.Thread(target=keep_calling) for _ in range(4)]
    for caller in callers:
        caller.start()
    assert answered.wait(60)
    exit_code = server.stop()
    for caller in callers:
        caller.join(30)

    assert exit_code == 0, server.log()
    # Each caller's calls were answered until one was refused: by the stopping server (grpc core cancels calls
    # that arrive once it stops) or, once it is gone, by the closed port. Never an error in between.
    assert outcomes.count("OK") >= 1 and set(outcomes) <= {"OK", "CANCELLED", "UNAVAILABLE"}, outcomes
    assert "Traceback" not in server.log()


# --- the vendored protos ------------------------------------------------------------------------------------


def test_vendored_tensorflow_serving_protos_match_the_real_ones_field_for_field() -> None:
    """maas' trimmed copies (app/grpc/protos) against `tensorflow-serving-api`'s: every message, field, enum value
    and method maas declares exists there with the same number and type, so both sides read the same bytes."""
    from google.protobuf import descriptor_pool
    from tensorflow_serving.apis import model_service_pb2, prediction_service_pb2  # noqa: F401  (fills the pool)

    from app.grpc import messages

    real = descriptor_pool.Default()
    mine = [
        messages.POOL.FindFileByName(p)
        for p in ("tensorflow_serving/apis/prediction_service.proto", "tensorflow_serving/apis/model_service.proto")
    ]
    seen: set[str] = set()

    def check_message(message: Any) -> None:
        if message.full_name in seen:
            return
        seen.add(message.full_name)
        theirs = real.FindMessageTypeByName(message.full_name)
        for field in message.fields:
            twin = theirs.fields_by_name[field.name]
            assert (field.number, field.type, field.is_repeated) == (twin.number, twin.type, twin.is_repeated), (
                field.full_name
            )
            if field.message_type is not None:
                assert field.message_type.full_name == twin.message_type.full_name
                check_message(field.message_type)
            if field.enum_type is not None:
                values = {v.name: v.number for v in twin.enum_type.values}
                assert all(values[v.name] == v.number for v in field.enum_type.values), field.enum_type.full_name

    for file in mine:
        for service in file.services_by_name.values():
            theirs = real.FindServiceByName(service.full_name)
            for method in service.methods:
                twin = theirs.methods_by_name[method.name]
                assert method.input_type.full_name == twin.input_type.full_name
                assert method.output_type.full_name == twin.output_type.full_name
                check_message(method.input_type)
                check_message(method.output_type)
    check_message(messages.SignatureDefMap.DESCRIPTOR)
    assert "tensorflow.TensorProto" in seen and "tensorflow.SignatureDef" in seen
