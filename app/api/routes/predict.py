"""Native predictions."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import PredictorDep, RegistryDep
from app.serving.service import PredictRequest, PredictResponse, predict

router = APIRouter(tags=["predict"])


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True)
def create_prediction(request: PredictRequest, registry: RegistryDep, predictor: PredictorDep) -> PredictResponse:
    """Predict with a model's latest version, a given version, or an alias."""
    return predict(registry, predictor, request)
