"""TensorFlow's input for streamed training (`TfStream`) gives exactly the batches of `StreamedRows.batches`, epoch
by epoch as the clock says, however the pieces it hands tf.data fall against the batches."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_backends import last_json_line

_STREAM = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
from datetime import UTC, datetime
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
from app.datasets.schemas import DatasetInfo
from app.datasets.streamed import RowSplit, StreamedDataset
from app.training import streaming
from app.training.batches import EpochClock
from app.training.epochs import StreamedRows

path = sys.argv[1]
rows = 700
table = pa.table({"a": np.arange(rows, dtype=np.float32), "b": np.random.default_rng(0).random(rows, np.float32),
                  "label": np.array(["cat", "dog", "emu"])[np.arange(rows) % 3]})
pq.write_table(table, path, row_group_size=160)
info = DatasetInfo(id="00000000-0000-4000-8000-000000000000", name="t", format="parquet", rows=rows,
                   feature_shape=[2], task="classification", classes=["cat", "dog", "emu"], sha256="x",
                   created_at=datetime.now(UTC), target="label", features=["a", "b"], files=[f"file://{path}"])
one_hot = lambda y: np.eye(3, dtype=np.float32)[y]
train = StreamedRows(StreamedDataset(info), RowSplit(0.2, 1.0, seed=3), one_hot)
streaming.PIECE_ROWS = 100  # pieces of 96 rows against batches of 32 and a last one of another size
clock = EpochClock(train.rows, 5, 0, True)
stream = streaming.TfStream(train, batch_size=32, seed=5, shuffle=True, clock=clock)
"""
_TF_STREAM = (
    _STREAM
    + """
same = []
for epoch in (0, 1, 4, 1):
    clock.on_epoch_begin(epoch)
    got = [(x.numpy(), y.numpy()) for x, y in stream.dataset]
    want = list(train.batches(batch_size=32, seed=5, epoch=epoch, shuffle=True))
    same.append(len(got) == len(want) and all(
        gx.shape == wx.shape and np.array_equal(gx, wx) and np.array_equal(gy, wy)
        for (gx, gy), (wx, wy) in zip(got, want)))
stream.close()
print(json.dumps({"same": same, "rows": train.rows, "last": len(want[-1][0])}))
"""
)
# As a job's child: malloc told to keep what it frees, an epoch iterated, then arrays of 1 MiB (a 128-row batch of
# 784 float32 is 392 KiB) allocated and freed over and over: the pages faulted in against those touched.
_REUSE_AFTER_EPOCH = (
    """
import ctypes
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: each fault is one 4 KiB page
from app.heap import keep_freed_memory
assert keep_freed_memory()
"""
    + _STREAM
    + """
import resource
clock.on_epoch_begin(0)
assert sum(len(x) for x, _ in stream.dataset) == train.rows
stream.close()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    np.ones(2**18, np.float32)
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, "touched": 200 * 256}))
"""
)


def test_tensorflow_streamed_batches_are_the_epochs_batches_in_order(tmp_path: Path) -> None:
    """Each epoch's batches, rows and one-hot targets, equal `StreamedRows.batches` for that (seed, epoch), also
    for an epoch asked for again after a later one (as a resumed job does)."""
    out = last_json_line(_TF_STREAM, str(tmp_path / "t.parquet"))
    assert out["same"] == [True, True, True, True]
    assert out["rows"] % 32 and out["last"] == out["rows"] % 32, "the short last batch is the epoch's rest"


def test_an_epoch_of_tensorflow_input_leaves_freed_memory_kept(tmp_path: Path) -> None:
    """TensorFlow's generator dataset lowers malloc's mmap threshold to 128 KiB when first iterated, which undid the
    job child's setting (app/heap.py): every batch-sized array was mapped and faulted in afresh. `TfStream` sets it
    again; arrays allocated and freed after an epoch reuse their pages."""
    out = last_json_line(_REUSE_AFTER_EPOCH, str(tmp_path / "t.parquet"))
    assert out["faults"] < 0.05 * out["touched"], out
