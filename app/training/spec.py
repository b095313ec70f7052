"""TrainingSpec: the pydantic schema of `POST /train` bodies (API.md), checked field by field.

Only shapes and names are checked here; whether the spec fits its dataset is `validate.py`'s job.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from app.datasets import DatasetRef
from app.registry.names import NAME_PATTERN
from app.training.backends import BackendName
from app.training.layers import Layer, Regularization
from app.training.optimizers import Optimizer
from app.training.strict import Strict

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
ClassificationMetric = Literal[
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
]
RegressionMetric = Literal[
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "root_mean_squared_error",
    "mean_absolute_percentage_error",
]  # fmt: skip
Metric = ClassificationMetric | RegressionMetric
Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]


def _steps_message(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """One message for the union, instead of one per member."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(f'steps_per_execution must be an integer >= 1 or "auto", not {value!r}') from None


StepsPerExecution = Annotated[PositiveInt | Literal["auto"], WrapValidator(_steps_message)]


class ModelSpec(Strict):
    """A Sequential `layers` stack, or a `keras_config` (what `model.to_json()` gives; built-in layers only)."""

    input_shape: list[PositiveInt] | None = Field(
        None, description="Optional; when given it must match the dataset's feature shape."
    )
    layers: list[Layer] | None = Field(None, min_length=1, description="The input shape comes from the data.")
    keras_config: dict[str, Any] | None = None

    @field_validator("keras_config", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if isinstance(value, str):  # model.to_json() returns a string; accept it as well as the parsed object
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"keras_config is not valid JSON: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelSpec:
        if (self.layers is None) == (self.keras_config is None):
            raise ValueError("give exactly one of 'layers' or 'keras_config'")
        return self


class LossConfig(Strict):
    name: LossName
    from_logits: bool = False


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = False


class ReduceLROnPlateau(Strict):
    monitor: str = "val_loss"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(5, ge=0)
    min_delta: float = Field(1e-4, ge=0)
    min_lr: float = Field(0.0, ge=0)


class LRRangeTest(Strict):
    """How `learning_rate: "auto"` scans: the rate grows exponentially from min_lr to max_lr over `steps` batches."""

    min_lr: float = Field(1e-6, gt=0)
    max_lr: float = Field(1.0, gt=0, le=10)
    steps: int = Field(100, ge=10, le=1000)

    @model_validator(mode="after")
    def _range(self) -> LRRangeTest:
        if self.min_lr >= self.max_lr:
            raise ValueError(f"min_lr ({self.min_lr}) must be below max_lr ({self.max_lr})")
        return self


class Fit(Strict):
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=65_536)
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)
    validation_data: DatasetRef | None = Field(None, description="A second dataset to validate on.")
    test_split: float = Field(0.0, ge=0.0, le=0.5, description="Held out before training; reported at the end.")
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None
    reduce_lr_on_plateau: ReduceLROnPlateau | None = None
    lr_range_test: LRRangeTest = Field(default_factory=LRRangeTest)
    steps_per_execution: StepsPerExecution = Field(
        "auto",
        description="Training steps per Keras call; auto = enough to amortise the per-call cost of a small model, "
        "never more than one epoch has.",
    )

    @model_validator(mode="after")
    def _one_validation_source(self) -> Fit:
        if self.validation_split > 0 and self.validation_data is not None:
            raise ValueError("give validation_split or validation_data, not both")
        return self


class CrossValidation(Strict):
    folds: int = Field(5, ge=2, le=20)
    stratified: bool = True


class Preprocessing(Strict):
    normalize: bool = Field(False, description="A Normalization layer adapted on the training split, saved inside.")


class Resources(Strict):
    """What one run of the job needs: the Ray executor schedules the job on a node that has it; the local
    executor runs every job in one child process and ignores it. With `workers` > 1 (Ray only), each of that
    many data-parallel workers gets `cpus`, `gpus` and `memory_gb`."""

    cpus: float = Field(1.0, gt=0, le=1024)
    gpus: float = Field(0.0, ge=0, le=64)
    memory_gb: float | None = Field(None, gt=0, le=4096, description="Memory reserved on the node; unset = none.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Data-parallel Ray Train workers (MAAS_EXECUTOR=ray): each trains a replica on its share of "
        "every batch; `fit.batch_size` stays the global batch size.",
    )


class InitFrom(Strict):
    """Fine-tuning: start from a registry version's architecture and weights (neither version nor alias = latest)."""

    model: str = Field(pattern=NAME_PATTERN)
    version: PositiveInt | None = None
    alias: str | None = None
    freeze_layers: int = Field(0, ge=0, description="How many of the first layers keep their weights.")
    reset_head: bool = Field(False, description="A fresh output layer sized for this dataset's classes.")

    @model_validator(mode="after")
    def _one_pick(self) -> InitFrom:
        if self.version is not None and self.alias is not None:
            raise ValueError("give init_from.version or init_from.alias, not both")
        return self


class TrainingSpec(Strict):
    """Everything needed to train, reproduce and publish one model."""

    model_name: str = Field(pattern=NAME_PATTERN)
    dataset: DatasetRef
    model: ModelSpec | None = Field(None, description="Required unless init_from gives the architecture.")
    init_from: InitFrom | None = None
    loss: LossName | LossConfig
    metrics: list[Metric] = Field(default_factory=list)
    optimizer: Optimizer = Field(default_factory=Optimizer)
    regularization: Regularization | None = None
    fit: Fit = Field(default_factory=Fit)
    cross_validation: CrossValidation | None = None
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    max_runtime_s: float | None = Field(None, gt=0, description="Fail the job past this many seconds of running.")
    max_retries: int | None = Field(None, ge=0, le=20, description="Reruns after a worker or process died.")
    resources: Resources = Field(default_factory=Resources, description="CPUs, GPUs and memory one run needs.")
    backend: BackendName = Field(
        "auto", description="Keras backend; auto = MAAS_KERAS_BACKEND, else JAX where installed, else TensorFlow."
    )
    precision: Precision = Field(
        "float32", description="Keras dtype policy while training; the output layer and the served model stay float32."
    )

    @model_validator(mode="after")
    def _compatible(self) -> TrainingSpec:
        rate = self.optimizer.learning_rate
        if self.model is None and self.init_from is None:
            raise ValueError("give a model, or init_from to start from a registry version")
        if self.fit.reduce_lr_on_plateau is not None and not isinstance(rate, float | str):
            raise ValueError("reduce_lr_on_plateau needs a constant learning_rate, not a schedule")
        return self

    @field_validator("backend")
    @classmethod
    def _one_process_backend(cls, backend: str, info: ValidationInfo) -> str:
        resources = info.data.get("resources")
        if backend == "jax" and resources is not None and resources.workers > 1:
            raise ValueError(
                "backend 'jax' trains in one process: data-parallel jobs (resources.workers > 1) run on "
                "TensorFlow's MultiWorkerMirroredStrategy; use backend 'tensorflow' or 'auto'"
            )
        return backend

    @property
    def loss_config(self) -> LossConfig:
        return self.loss if isinstance(self.loss, LossConfig) else LossConfig(name=self.loss)
