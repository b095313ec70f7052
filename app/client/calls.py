"""Every maas endpoint as a `Call` (what to send) and a parser (what the answer means), so that the sync and the
async client share all of it and differ only in how they send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from app.client.specs import load_spec


@dataclass(frozen=True)
class Prediction:
    """`/predict`'s answer with `predictions` as a numpy array; `classes` for classifiers (label names)."""

    model: str
    version: int
    predictions: np.ndarray
    classes: list[str] | None = None


def _json(response: httpx.Response) -> Any:
    return response.json()


def _nothing(_response: httpx.Response) -> None:
    return None


def _bytes(response: httpx.Response) -> bytes:
    return response.content


def _prediction(response: httpx.Response) -> Prediction:
    body = response.json()
    predictions = np.asarray(body["predictions"], dtype=np.float32)
    return Prediction(body["model"], body["version"], predictions, body.get("classes"))


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    parse: Callable[[httpx.Response], Any] = _json


def json_body(payload: Any) -> tuple[bytes, dict[str, str]]:
    """orjson writes numpy arrays and scalars directly, and much faster than `json` for big batches."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), {"Content-Type": "application/json"}


def _post_json(path: str, payload: Any, parse: Callable[[httpx.Response], Any] = _json) -> Call:
    content, headers = json_body(payload)
    return Call("POST", path, content=content, headers=headers, parse=parse)


def _params(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


# --- datasets -----------------------------------------------------------------------------------------------


def upload_dataset(path: str | Path, name: str | None, target: str | None, task: str | None) -> Call:
    path = Path(path)
    form = _params(name=name or path.stem.lower().replace("_", "-"), target=target, task=task)
    return Call("POST", "/datasets", files={"file": (path.name, path.read_bytes())}, data=form)


def list_datasets() -> Call:
    return Call("GET", "/datasets")


def get_dataset(dataset_id: str) -> Call:
    return Call("GET", f"/datasets/{dataset_id}")


def delete_dataset(dataset_id: str) -> Call:
    return Call("DELETE", f"/datasets/{dataset_id}", parse=_nothing)


# --- training and jobs --------------------------------------------------------------------------------------


def train(spec: dict[str, Any] | str | Path) -> Call:
    """A spec as a dict, or the path of a `.json` / `.yaml` file holding one."""
    return _post_json("/train", spec if isinstance(spec, dict) else load_spec(spec))


def list_jobs(status: str | None, model_name: str | None, limit: int, offset: int) -> Call:
    return Call("GET", "/jobs", params=_params(status=status, model_name=model_name, limit=limit, offset=offset))


def get_job(job_id: str) -> Call:
    return Call("GET", f"/jobs/{job_id}")


def cancel_job(job_id: str) -> Call:
    return Call("POST", f"/jobs/{job_id}/cancel")


def tensorboard(job_id: str) -> Call:
    return Call("GET", f"/jobs/{job_id}/tensorboard", parse=_bytes)


def events(job_id: str, last_event_id: str | None) -> Call:
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return Call("GET", f"/jobs/{job_id}/events", headers=headers)


# --- sweeps -------------------------------------------------------------------------------------------------


def create_sweep(spec: dict[str, Any] | str | Path) -> Call:
    """A sweep spec (base training spec, search space, trials, objective) as a dict or a `.json` / `.yaml` path."""
    return _post_json("/sweeps", spec if isinstance(spec, dict) else load_spec(spec))


def list_sweeps(status: str | None, limit: int, offset: int) -> Call:
    return Call("GET", "/sweeps", params=_params(status=status, limit=limit, offset=offset))


def get_sweep(sweep_id: str) -> Call:
    return Call("GET", f"/sweeps/{sweep_id}")


def cancel_sweep(sweep_id: str) -> Call:
    return Call("POST", f"/sweeps/{sweep_id}/cancel")


# --- registry and prediction --------------------------------------------------------------------------------


def list_models() -> Call:
    return Call("GET", "/models")


def get_model(name: str) -> Call:
    return Call("GET", f"/models/{name}")


def get_version(name: str, version: int) -> Call:
    return Call("GET", f"/models/{name}/versions/{version}")


def download_artifact(name: str, version: int) -> Call:
    return Call("GET", f"/models/{name}/versions/{version}/artifact", parse=_bytes)


def delete_version(name: str, version: int) -> Call:
    return Call("DELETE", f"/models/{name}/versions/{version}", parse=_nothing)


def set_alias(name: str, alias: str, version: int) -> Call:
    content, headers = json_body({"version": version})
    return Call("PUT", f"/models/{name}/aliases/{alias}", content=content, headers=headers)


def delete_alias(name: str, alias: str) -> Call:
    return Call("DELETE", f"/models/{name}/aliases/{alias}")


def _instances(instances: Any) -> Any:
    """orjson writes numeric, C-ordered arrays directly (fast); anything else goes as plain lists."""
    if isinstance(instances, np.ndarray):
        if instances.dtype.kind in "biuf":
            return np.ascontiguousarray(instances)
        return instances.tolist()
    return instances


def predict(model: str, instances: Any, version: int | None, alias: str | None) -> Call:
    """Instances: a numpy array or nested lists, one row per instance."""
    payload = {"model": model, **_params(version=version, alias=alias), "instances": _instances(instances)}
    return _post_json("/predict", payload, parse=_prediction)


def evaluate(name: str, version: int, dataset: dict[str, Any], batch_size: int | None = None) -> Call:
    body: dict[str, Any] = {"dataset": dataset, **({"batch_size": batch_size} if batch_size else {})}
    return _post_json(f"/models/{name}/versions/{version}/evaluations", body)


def list_evaluations(name: str, version: int | None = None, dataset_sha256: str | None = None) -> Call:
    """One version's evaluations, or (without `version`) every version's, on one dataset if given."""
    if version is not None:
        return Call("GET", f"/models/{name}/versions/{version}/evaluations")
    return Call("GET", f"/models/{name}/evaluations", params=_params(dataset_sha256=dataset_sha256))


def batch_predict(body: dict[str, Any]) -> Call:
    return _post_json("/batch-predictions", body)


def job_output(job_id: str) -> Call:
    return Call("GET", f"/jobs/{job_id}/output", parse=_bytes)
