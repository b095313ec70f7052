"""The registry record of a 4-feature, 3-class iris classifier, and two rows of its output, for the codec tests of
both transports (REST and gRPC) to encode and decode against."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.registry import ModelVersion

META = ModelVersion(
    name="iris-mlp",
    version=3,
    created_at=datetime.now(UTC),
    input_shape=[None, 4],
    output_shape=[None, 3],
    task="classification",
    classes=["setosa", "versicolor", "virginica"],
    sha256="0" * 64,
    runtime="onnxruntime",
)
OUT = np.array([[0.9, 0.07, 0.03], [0.1, 0.6, 0.3]], dtype=np.float32)
