"""Evaluations of model versions: queue one (a job of kind `evaluate`), list a version's, compare versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.api.accepted import accepted
from app.api.deps import RegistryDep, SettingsDep, StoreDep, SupervisorDep
from app.evaluation.schemas import Evaluation, EvaluationRequest
from app.evaluation.service import submit_evaluation
from app.evaluation.store import EvaluationStore
from app.jobs.schemas import Job

router = APIRouter(prefix="/models", tags=["evaluations"])


def get_evaluations(request: Request) -> EvaluationStore:
    return EvaluationStore(request.app.state.store.engine)


EvaluationsDep = Annotated[EvaluationStore, Depends(get_evaluations)]


@router.post("/{name}/versions/{version}/evaluations", status_code=202, response_model=Job)
def create_evaluation(
    name: str,
    version: int,
    body: EvaluationRequest,
    response: Response,
    store: StoreDep,
    registry: RegistryDep,
    settings: SettingsDep,
    supervisor: SupervisorDep,
) -> Job:
    """Queue an evaluation of the version on a dataset; its result is listed below once the job succeeded."""
    job = submit_evaluation(store, registry, settings, name=name, version=version, request=body)
    accepted(response, supervisor, f"/jobs/{job.id}")
    return job


@router.get("/{name}/versions/{version}/evaluations", response_model=list[Evaluation])
def read_version_evaluations(name: str, version: int, registry: RegistryDep, evaluations: EvaluationsDep) -> list:
    """The version's finished evaluations, oldest first."""
    registry.read_version(name, version)
    return evaluations.list(name, version=version)


@router.get("/{name}/evaluations", response_model=list[Evaluation])
def read_model_evaluations(
    name: str,
    evaluations: EvaluationsDep,
    dataset_sha256: Annotated[str | None, Query(max_length=64)] = None,
) -> list:
    """Every version's evaluations (on one dataset, by its sha256), for side-by-side comparison."""
    return evaluations.list(name, dataset_sha256=dataset_sha256)
