"""What every codec shares: JSON decoding with orjson, and the check that a batch fits the model's input."""

from __future__ import annotations

from functools import lru_cache
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
    return list(_expected(tuple(meta.input_shape)))


@lru_cache(maxsize=1024)
def _expected(dims: tuple[int | None, ...]) -> tuple[int, ...]:
    """`expected_shape` as a tuple, computed once per distinct input shape rather than on every request (a
    version's shape never changes, and `check_batch` is on every prediction's path)."""
    return tuple(-1 if d is None else int(d) for d in dims)


def _fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    if shape[1:] == expected[1:]:  # the usual case: every row dimension fixed, and matched
        return True
    return len(shape) == len(expected) and all(e in (-1, d) for e, d in zip(expected[1:], shape[1:], strict=True))


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
    shape = batch.shape
    expected = _expected(tuple(meta.input_shape))
    if not shape or shape[0] == 0 or not _fits(shape, expected):
        expected_list = list(expected)
        raise InvalidInput(
            f"{what} have shape {list(shape)} but model {meta.name!r} version {meta.version} expects "
            f"{expected_list} (rows of {expected_list[1:]})",
            errors=[{"loc": [what], "msg": f"expected shape {expected_list}, got {list(shape)}"}],
        )
    if batch.dtype != np.float32 or not batch.flags.c_contiguous:  # (most requests need no copy)
        with np.errstate(over="ignore"):
            batch = np.ascontiguousarray(batch, dtype=np.float32)
    if not np.isfinite(batch).all():
        raise InvalidInput(
            f"{what} contain NaN or infinite values", errors=[{"loc": [what], "msg": "expected finite numbers"}]
        )
    return batch
