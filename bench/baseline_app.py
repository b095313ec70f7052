"""Baselines for `bench/serving.py`, served by uvicorn exactly as maas is (uvloop, httptools, no access log).

- `POST /predict`: what a user writes by hand — a pydantic `list[list[float]]` body and `model.predict` per request.
- `POST /empty`: the HTTP floor — reads the same body, parses it with orjson, answers a constant.

    .venv/bin/python bench/baseline_app.py MODEL.keras PORT
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel


class Instances(BaseModel):
    instances: list[list[float]]


def create(model_path: str) -> FastAPI:
    model = keras.saving.load_model(model_path, compile=False)
    app = FastAPI()

    @app.post("/predict")
    def predict(body: Instances) -> dict[str, list[list[float]]]:
        return {"predictions": model.predict(np.array(body.instances, dtype=np.float32), verbose=0).tolist()}

    @app.post("/empty")
    async def empty(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(b'{"ok":true}', media_type="application/json")

    return app


if __name__ == "__main__":
    uvicorn.run(create(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
