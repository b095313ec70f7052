"""Native predictions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import ServingDep
from app.api.fastpath import direct
from app.api.problems import problem, status_for
from app.api.request_ids import request_id
from app.api.telemetry import MODEL_STATE_KEY
from app.errors import MalformedBody
from app.serving.codecs.native import PredictRequest, PredictResponse
from app.serving.service import predict_native

router = APIRouter(tags=["predict"])

# The body is parsed by orjson straight into numpy (pydantic's per-float validation costs more than the model
# call), so the request schema is declared here for the OpenAPI document instead of through a parameter.
REQUEST_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()}}}
}


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True, openapi_extra=REQUEST_BODY)
@direct
async def create_prediction(request: Request, serving: ServingDep) -> Response:
    """Predict with a model's latest version, a given version, or an alias."""
    with serving.receiving():
        body = await request.body()
        try:
            reply = await predict_native(serving, body, request_id(request))
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from exc
        except MalformedBody as exc:
            return problem(status_for(exc), exc.title, exc.detail, exc.code)
    setattr(request.state, MODEL_STATE_KEY, reply.model)
    return Response(reply.body, media_type="application/json")
