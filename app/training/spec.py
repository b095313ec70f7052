"""TrainingSpec: the pydantic schema of `POST /train` bodies (API.md), checked field by field.

Only shapes and names are checked here; whether the spec fits its dataset is `validate.py`'s job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from app.registry.names import NAME_PATTERN

Activation = Literal[
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "exponential",
]
ClassificationLoss = Literal["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"]
RegressionLoss = Literal[
    "mean_squared_error",
    "mse",
    "mean_absolute_error",
    "mae",
    "huber",
    "log_cosh",
    "mean_squared_logarithmic_error",
    "mean_absolute_percentage_error",
]
LossName = ClassificationLoss | RegressionLoss
Metric = Literal[
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "mean_squared_error",
    "mse",
    "mean_absolute_error",
    "mae",
    "root_mean_squared_error",
    "mean_absolute_percentage_error",
]
OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"]
Padding = Literal["valid", "same"]
IntPair = PositiveInt | tuple[PositiveInt, PositiveInt]


class Strict(BaseModel):
    """Unknown fields are errors: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Regularization(Strict):
    l1: float = Field(0.0, ge=0, description="L1 penalty on kernels.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on kernels.")


class Dense(Strict):
    type: Literal["dense"]
    units: int = Field(ge=1, le=100_000)
    activation: Activation | None = None
    use_bias: bool = True
    regularization: Regularization | None = Field(None, description="Overrides the spec-wide regularization.")


class Dropout(Strict):
    type: Literal["dropout"]
    rate: float = Field(ge=0.0, lt=1.0)


class Flatten(Strict):
    type: Literal["flatten"]


class Reshape(Strict):
    type: Literal["reshape"]
    target_shape: list[PositiveInt] = Field(min_length=1)


class Conv2D(Strict):
    type: Literal["conv2d"]
    filters: int = Field(ge=1, le=4096)
    kernel_size: IntPair = 3
    strides: IntPair = 1
    padding: Padding = "valid"
    activation: Activation | None = None
    regularization: Regularization | None = None


class MaxPooling2D(Strict):
    type: Literal["max_pooling2d"]
    pool_size: IntPair = 2
    strides: IntPair | None = None
    padding: Padding = "valid"


class BatchNormalization(Strict):
    type: Literal["batch_normalization"]
    momentum: float = Field(0.99, gt=0, lt=1)
    epsilon: float = Field(1e-3, gt=0)


Layer = Annotated[
    Dense | Dropout | Flatten | Reshape | Conv2D | MaxPooling2D | BatchNormalization,
    Field(discriminator="type"),
]


class ModelSpec(Strict):
    layers: list[Layer] = Field(min_length=1, description="A Sequential stack; the input shape comes from the data.")


class InlineData(Strict):
    x: list[Any] = Field(min_length=1)
    y: list[Any] = Field(min_length=1)
    task: Literal["classification", "regression"] | None = None


class DatasetRef(Strict):
    """Exactly one of a built-in dataset's name, an uploaded dataset's id, or inline data."""

    builtin: str | None = None
    id: str | None = None
    inline: InlineData | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DatasetRef:
        given = [k for k in ("builtin", "id", "inline") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'builtin', 'id' or 'inline' (got {given or 'none'})")
        return self


class LossConfig(Strict):
    name: LossName
    from_logits: bool = False


class Optimizer(Strict):
    name: OptimizerName = "adam"
    learning_rate: float = Field(0.001, gt=0, le=10)
    momentum: float | None = Field(None, ge=0, lt=1, description="SGD and RMSprop only.")
    nesterov: bool | None = Field(None, description="SGD only.")

    @model_validator(mode="after")
    def _fits_optimizer(self) -> Optimizer:
        if self.momentum is not None and self.name not in ("sgd", "rmsprop"):
            raise ValueError(f"'momentum' applies to sgd and rmsprop, not {self.name}")
        if self.nesterov is not None and self.name != "sgd":
            raise ValueError(f"'nesterov' applies to sgd only, not {self.name}")
        return self


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = False


class Fit(Strict):
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=65_536)
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None


class TrainingSpec(Strict):
    """Everything needed to train, reproduce and publish one model."""

    model_name: str = Field(pattern=NAME_PATTERN)
    dataset: DatasetRef
    model: ModelSpec
    loss: LossName | LossConfig
    metrics: list[Metric] = Field(default_factory=list)
    optimizer: Optimizer = Field(default_factory=Optimizer)
    regularization: Regularization | None = None
    fit: Fit = Field(default_factory=Fit)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)

    @property
    def loss_config(self) -> LossConfig:
        return self.loss if isinstance(self.loss, LossConfig) else LossConfig(name=self.loss)
