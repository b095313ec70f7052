"""A data-parallel worker's replica of the model: the distributed copy, its optimizer and one compiled train step
under `tf.distribute.MultiWorkerMirroredStrategy` (see app/worker/ray/train_worker.py for the worker around it).

Keras 3's own `model.fit` fails under that strategy (keras#20585, ray#47464), so the replica trains with a plain
TensorFlow step: the per-example loss is scaled to the *global* batch, Keras' optimizer all-reduces the gradients
across workers inside `apply_gradients`, and every worker applies the same update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.worker.ray.train_worker import Plan


def _all_layers(model: Any) -> list[Any]:
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer, *_all_layers(layer)]
    return found


def copy_weights(source: Any, target: Any) -> None:
    target.set_weights(source.get_weights())
    for layer in _all_layers(target):  # an adapted Normalization keeps its mean as a tensor, not a variable
        if hasattr(layer, "finalize_state") and hasattr(layer, "adapt_mean"):
            layer.finalize_state()


def _per_example_loss(spec: Any) -> Any:
    import keras

    from app.training.build import make_loss

    loss = make_loss(spec.loss_config)
    if isinstance(loss, str):
        return keras.losses.get(loss)  # the function form returns one value per example
    return type(loss)(from_logits=spec.loss_config.from_logits, reduction=None)


class Replica:
    """This worker's distributed model, optimizer and compiled train step."""

    def __init__(self, strategy: Any, plan: Plan, plain: Any, resumed: bool) -> None:
        import keras
        import tensorflow as tf

        from app.training.build import make_optimizer
        from app.training.spec import TrainingSpec

        self.strategy = strategy
        spec = TrainingSpec.model_validate(plan.spec)
        with self.strategy.scope():
            self.model = keras.models.clone_model(plain)
            copy_weights(plain, self.model)
            self.optimizer = make_optimizer(spec.optimizer, plan.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
        if resumed:  # the checkpoint's optimizer state (Adam's moments, the step count) carries on
            for mine, saved in zip(self.optimizer.variables, plain.optimizer.variables, strict=True):
                mine.assign(saved.numpy())
        self.loss_fn = _per_example_loss(spec)
        x, y = plan.train
        signature = [
            tf.TensorSpec([None, *x.shape[1:]], tf.float32),
            tf.TensorSpec([None, *y.shape[1:]], tf.as_dtype(y.dtype)),
            tf.TensorSpec([], tf.float32),
        ]
        # One trace for every batch size, identical on every worker: the collectives inside must pair up.
        self.step = tf.function(self._step, input_signature=signature)

    def _replica_step(self, x: Any, y: Any, global_rows: Any) -> Any:
        import tensorflow as tf

        replicas = self.strategy.num_replicas_in_sync
        with tf.GradientTape() as tape:
            predicted = self.model(x, training=True)
            per_example = tf.reshape(tf.cast(self.loss_fn(y, predicted), tf.float32), [-1])
            loss = tf.reduce_sum(per_example) / global_rows  # summed over replicas: the global batch's mean
            if self.model.losses:
                loss += tf.add_n(self.model.losses) / replicas
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))  # all-reduces
        return loss, y, predicted

    def _step(self, x: Any, y: Any, global_rows: Any) -> Any:
        import tensorflow as tf

        loss, y_all, predicted = self.strategy.run(self._replica_step, args=(x, y, global_rows))
        return (
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            self.strategy.gather(y_all, axis=0),
            self.strategy.gather(predicted, axis=0),
        )

    def optimizer_state_to(self, plain: Any) -> None:
        """This replica's optimizer state onto the plain model, so that its checkpoint resumes the optimizer too."""
        if not plain.optimizer.built:
            plain.optimizer.build(plain.trainable_variables)
        for mine, live in zip(plain.optimizer.variables, self.optimizer.variables, strict=True):
            mine.assign(live.numpy())
