"""What every codec shares: JSON decoding with orjson, and the check that a batch fits the model's input."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from app.errors import InvalidInput, MalformedBody
from app.registry import ModelVersion

#: Tensor names, the same as those of the SavedModel exported at publish (`serving_default` signature).
INPUT_NAME = "input"
OUTPUT_NAME = "output_0"


def loads(body: bytes) -> Any:
    """The body as JSON (orjson: several times faster than the standard library on big number arrays)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc}") from exc


def dumps(value: Any) -> bytes:
    """JSON bytes; numpy arrays are written directly, float32 with the fewest digits that round-trip."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def expected_shape(meta: ModelVersion) -> list[int]:
    """The model's input shape with -1 for the batch (and any other free) dimension."""
    return [-1 if d is None else int(d) for d in meta.input_shape]


def to_array(value: Any, what: str, meta: ModelVersion) -> np.ndarray:
    """Nested lists of numbers as a float32 array, or InvalidInput naming the expected shape."""
    try:
        with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused by `check_batch`
            return np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        expected = expected_shape(meta)
        raise InvalidInput(
            f"{what} must be a rectangular array of numbers shaped {expected} ({exc})",
            errors=[{"loc": [what], "msg": f"expected numbers shaped {expected}"}],
        ) from exc


def check_batch(batch: np.ndarray, what: str, meta: ModelVersion) -> np.ndarray:
    """`batch` as a C-contiguous float32 array if it fits the model's input, else InvalidInput saying why."""
    expected = expected_shape(meta)
    fits = batch.ndim == len(expected) and all(e in (-1, d) for e, d in zip(expected[1:], batch.shape[1:], strict=True))
    if not fits or batch.shape[0] == 0:
        raise InvalidInput(
            f"{what} have shape {list(batch.shape)} but model {meta.name!r} version {meta.version} expects "
            f"{expected} (rows of {expected[1:]})",
            errors=[{"loc": [what], "msg": f"expected shape {expected}, got {list(batch.shape)}"}],
        )
    if batch.dtype != np.float32 or not batch.flags.c_contiguous:  # (most requests need no copy)
        with np.errstate(over="ignore"):
            batch = np.ascontiguousarray(batch, dtype=np.float32)
    if not np.isfinite(batch).all():
        raise InvalidInput(
            f"{what} contain NaN or infinite values", errors=[{"loc": [what], "msg": "expected finite numbers"}]
        )
    return batch
