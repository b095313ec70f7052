"""One Ray Train worker of a data-parallel job (`resources.workers > 1`): a replica of the model trained with
`tf.distribute.MultiWorkerMirroredStrategy` on its shard of every global batch.

Keras 3's own `model.fit` fails under that strategy, so the replica trains with a plain TensorFlow step instead
(app/worker/ray/replica.py). Each worker also keeps a plain, undistributed copy of the model (from the job's
`ModelSource`, as every other training path gets its models) that holds the weights after every epoch: its
compiled metrics score the gathered predictions of the whole global batch, it evaluates the validation rows, it
drives early stopping and learning-rate callbacks, and it is what rank 0 checkpoints and hands back for
publishing. Every worker sees the same numbers, so they all stop at the same epoch. Rank 0 tells its epochs to a
`Reporter`, as the single-process pipeline does; it opens that reporter itself, in its own process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from app.worker.ray.replica import Replica, copy_weights

if TYPE_CHECKING:
    from app.training.model_source import ModelSource
    from app.training.pipeline import Reporter

#: Files rank 0 leaves in the plan's output folder for the job's Ray task, and each rank's weight hash.
FINAL_MODEL, FINAL_RESULT = "final.keras", "final.json"
PHASE = "final"


class OpensReporter(Protocol):
    """Something that pickles and, unpickled in another process, opens a reporter onto the job there."""

    def open(self) -> AbstractContextManager[Reporter]: ...


@dataclass
class Plan:
    """Everything a worker needs, from the job's Ray task: the same for every rank."""

    spec: dict[str, Any]
    source: ModelSource
    reporting: OpensReporter  # rank 0 reports the job's progress through it
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray] | None
    shuffle_seed: int
    learning_rate: Any
    checkpoints: str
    output: str
    placement_group_file: str  # rank 0 records its placement group here, for the executor to remove on cancel
    tensorboard: str  # the job's TensorBoard folder


def replica_file(output: Path, rank: int) -> Path:
    return output / f"replica-{rank}.sha256"


def weights_sha256(weights: list[np.ndarray]) -> str:
    flat = np.concatenate([np.asarray(w, dtype=np.float32).ravel() for w in weights]) if weights else np.zeros(0)
    return hashlib.sha256(flat.tobytes()).hexdigest()


def global_batches(n: int, batch_size: int, seed: int, epoch: int, shuffle: bool) -> list[np.ndarray]:
    """Row indices of each global batch of `epoch` (0-based), in the single-process path's order: a resumed
    epoch sees the order it would have seen."""
    from app.training.batches import epoch_order

    order = epoch_order(n, seed, epoch, shuffle)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _epoch(replica: Replica, plain: Any, plan: Plan, spec: Any, epoch: int, rank: int, world: int) -> dict[str, Any]:
    """Train one epoch on this worker's shard of each global batch; the logs Keras' fit would give."""
    x, y = plan.train
    plain.reset_metrics()
    loss_sum, rows = 0.0, 0
    metrics: dict[str, Any] = {}
    for batch in global_batches(len(x), spec.fit.batch_size, plan.shuffle_seed, epoch, spec.fit.shuffle):
        mine = batch[rank::world]
        loss, y_all, predicted = replica.step(x[mine], y[mine], np.float32(len(batch)))
        loss_sum, rows = loss_sum + float(loss) * len(batch), rows + len(batch)
        metrics = plain.compute_metrics(None, y_all, predicted)
    logs = {k: float(v) for k, v in metrics.items() if k not in ("loss", "compile_metrics")}
    logs = {"loss": loss_sum / rows, **logs}
    copy_weights(replica.model, plain)
    if plan.validation is not None:
        evaluated = plain.evaluate(*plan.validation, batch_size=spec.fit.batch_size, verbose=0, return_dict=True)
        logs.update({f"val_{k}": float(v) for k, v in evaluated.items()})
    return logs


class _TensorBoard:
    """Rank 0's per-epoch scalars, laid out as Keras' TensorBoard callback lays out the single-process path's."""

    def __init__(self, folder: Path) -> None:
        import tensorflow as tf

        self.tf = tf
        self.writers = {part: tf.summary.create_file_writer(str(folder / part)) for part in ("train", "validation")}

    def epoch(self, epoch: int, logs: dict[str, float | None]) -> None:
        for name, value in logs.items():
            part, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            if value is not None:
                with self.writers[part].as_default():
                    self.tf.summary.scalar(f"epoch_{tag}", value, step=epoch)
        for writer in self.writers.values():
            writer.flush()


def train_worker(config: dict[str, Any]) -> None:
    """The Ray Train loop of every worker (`train_loop_per_worker`)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "0"
    import keras
    import ray.train

    assert keras.__version__.startswith("3"), f"data-parallel workers need Keras 3, got {keras.__version__}"
    import tensorflow as tf

    from app.training.pipeline import Reporter

    # First of all: TensorFlow configures its collectives (from the TF_CONFIG Ray Train set) before any other op.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    plan: Plan = config["plan"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    group = ray.util.get_current_placement_group()
    if rank == 0 and group is not None:
        Path(plan.placement_group_file).write_text(group.id.hex())
    spec, plain, start, history, checkpoints = _start(plan)
    replica = Replica(strategy, plan, plain, resumed=start > 0)
    callbacks = _plain_callbacks(spec, plain)
    board = _TensorBoard(Path(plan.tensorboard) / PHASE) if rank == 0 else None
    # Only rank 0 reports (and checkpoints); the other ranks' reporter ignores what it is told.
    with plan.reporting.open() if rank == 0 else nullcontext(Reporter()) as reporter:
        if start > 0:
            reporter.resumed(None, start)
        for epoch in range(start, spec.fit.epochs):
            logs = _epoch(replica, plain, plan, spec, epoch, rank, world)
            values = _epoch_end(callbacks, replica, plain, spec=spec, epoch=epoch, logs=logs)
            for name, value in values.items():
                history.setdefault(name, []).append(value)
            if board is not None:
                board.epoch(epoch, values)
                reporter.epoch(epoch + 1, spec.fit.epochs, values, None, None)
                replica.optimizer_state_to(plain)
                checkpoints.save(PHASE, plain, epoch + 1, history)
            if plain.stop_training:
                break
        checkpoints.flush()  # the last epoch's checkpoint is written in the background
        _finish(plan, replica, plain, callbacks, history, rank)


def _epoch_end(
    callbacks: list[Any], replica: Replica, plain: Any, *, spec: Any, epoch: int, logs: dict[str, Any]
) -> dict[str, float | None]:
    """Let the callbacks see the epoch (the replica follows a lowered learning rate); its JSON-safe logs."""
    from app.training.fit import clean

    for callback in callbacks:
        callback.on_epoch_end(epoch, logs)
    _sync_learning_rate(spec, replica, plain)
    return clean(logs)


def _start(plan: Plan) -> tuple[Any, Any, int, dict[str, list[Any]], Any]:
    """The spec, the plain model (fresh, or the last epoch checkpoint's), its epoch and history so far."""
    import keras

    from app.training.build import seed_everything
    from app.training.checkpoints import Checkpoints
    from app.training.spec import TrainingSpec

    spec = TrainingSpec.model_validate(plan.spec)
    seed_everything(spec.seed)
    keras.utils.set_random_seed(spec.seed if spec.seed is not None else plan.shuffle_seed)  # same init everywhere
    checkpoints = Checkpoints(Path(plan.checkpoints))
    resumed = checkpoints.load(PHASE)
    if resumed is not None:
        plain, start, history = resumed
        return spec, plain, start, history, checkpoints
    plain = plan.source.build(learning_rate=plan.learning_rate, train_x=plan.train[0])
    return spec, plain, 0, {}, checkpoints


def _plain_callbacks(spec: Any, plain: Any) -> list[Any]:
    """Early stopping and learning-rate reduction, as the single-process path configures them, on the plain
    model: they read the (identical) logs of every worker and so decide the same everywhere."""
    from app.training.fit import Phase, epoch_callbacks

    phase = Phase(name=PHASE, epochs=spec.fit.epochs, report=lambda _e, _l: None, shuffle_seed=0)
    callbacks = epoch_callbacks(spec, phase)
    plain.stop_training = False
    for callback in callbacks:
        callback.set_model(plain)
        callback.on_train_begin()
    return callbacks


def _sync_learning_rate(spec: Any, replica: Replica, plain: Any) -> None:
    """ReduceLROnPlateau lowers the plain model's rate; the replica's optimizer follows it (a constant rate:
    the spec refuses the callback with a schedule)."""
    if spec.fit.reduce_lr_on_plateau is None:
        return
    wanted = float(np.asarray(plain.optimizer.learning_rate))
    if not math.isclose(wanted, float(np.asarray(replica.optimizer.learning_rate))):
        replica.optimizer.learning_rate = wanted


def _finish(plan: Plan, replica: Replica, plain: Any, callbacks: list[Any], history: dict, rank: int) -> None:
    """Every rank leaves the hash of its own final weights; rank 0 also the model to publish and its history."""
    from app.durable import write_json_atomically
    from app.training.fit import kept_epoch

    for callback in callbacks:
        callback.on_train_end()  # early stopping may restore the best epoch's weights into the plain model
    output = Path(plan.output)
    output.mkdir(parents=True, exist_ok=True)
    replica_file(output, rank).write_text(weights_sha256(replica.model.get_weights()))
    if rank != 0:
        return
    epochs_done = len(next(iter(history.values()), []))
    kept = kept_epoch(callbacks, epochs_done)
    plain.save(output / FINAL_MODEL)
    final = {k: values[kept] for k, values in history.items()}
    write_json_atomically(output / FINAL_RESULT, {"history": history, "final": final, "epochs_run": kept + 1})


def read_result(output: Path) -> dict[str, Any]:
    return json.loads((output / FINAL_RESULT).read_text())
