"""Optimizer specs: the six Keras optimizers, their own parameters, clipping, and learning-rate schedules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Discriminator, Field, PositiveInt, Tag, model_validator

from app.training.strict import Strict

OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"]


class ExponentialDecay(Strict):
    """lr = initial_learning_rate * decay_rate ** (step / decay_steps)."""

    schedule: Literal["exponential"]
    initial_learning_rate: float = Field(gt=0, le=10)
    decay_steps: PositiveInt
    decay_rate: float = Field(gt=0, le=1)
    staircase: bool = False


class CosineDecay(Strict):
    """Cosine decay from initial_learning_rate to alpha * it, after an optional linear warm-up."""

    schedule: Literal["cosine"]
    initial_learning_rate: float = Field(gt=0, le=10)
    decay_steps: PositiveInt
    alpha: float = Field(0.0, ge=0, le=1)
    warmup_steps: int = Field(0, ge=0)
    warmup_target: float | None = Field(None, gt=0, le=10)


class PiecewiseConstant(Strict):
    """values[i] until step boundaries[i]; one more value than boundaries."""

    schedule: Literal["piecewise"]
    boundaries: list[PositiveInt] = Field(min_length=1)
    values: list[Annotated[float, Field(gt=0, le=10)]]

    @model_validator(mode="after")
    def _shapes(self) -> PiecewiseConstant:
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"needs one more value than boundaries: {len(self.boundaries)} boundaries, {len(self.values)} values"
            )
        if self.boundaries != sorted(set(self.boundaries)):
            raise ValueError("boundaries must be strictly increasing")
        return self


Schedule = Annotated[ExponentialDecay | CosineDecay | PiecewiseConstant, Field(discriminator="schedule")]


def _rate_kind(value: object) -> str:
    """Tell a number, a schedule object and "auto" apart first, so that an error names only the kind given."""
    if isinstance(value, dict | BaseModel):
        return "schedule"
    return "auto" if isinstance(value, str) else "number"


LearningRate = Annotated[
    Annotated[float, Field(gt=0, le=10), Tag("number")]
    | Annotated[Schedule, Tag("schedule")]
    | Annotated[Literal["auto"], Tag("auto")],
    Discriminator(_rate_kind),
]

# Which optimizer takes which optional parameter (Keras 3 names); anything else is refused, naming these.
OPTIMIZER_PARAMS: dict[str, set[str]] = {
    "momentum": {"sgd", "rmsprop"},
    "nesterov": {"sgd"},
    "beta_1": {"adam", "adamw", "nadam"},
    "beta_2": {"adam", "adamw", "nadam"},
    "epsilon": {"adam", "adamw", "nadam", "rmsprop", "adagrad"},
    "amsgrad": {"adam", "adamw"},
    "rho": {"rmsprop"},
}


class Optimizer(Strict):
    name: OptimizerName = "adam"
    learning_rate: LearningRate = Field(0.001, description="A rate, a schedule, or 'auto' (an LR range test picks it).")
    momentum: float | None = Field(None, ge=0, lt=1, description="sgd and rmsprop.")
    nesterov: bool | None = Field(None, description="sgd only.")
    beta_1: float | None = Field(None, gt=0, lt=1, description="adam, adamw, nadam.")
    beta_2: float | None = Field(None, gt=0, lt=1, description="adam, adamw, nadam.")
    epsilon: float | None = Field(None, gt=0, le=1)
    amsgrad: bool | None = Field(None, description="adam and adamw.")
    rho: float | None = Field(None, gt=0, lt=1, description="rmsprop.")
    weight_decay: float | None = Field(None, ge=0, le=1, description="Decoupled weight decay (any optimizer).")
    clipnorm: float | None = Field(None, gt=0, description="Clip each gradient to this norm.")
    clipvalue: float | None = Field(None, gt=0, description="Clip each gradient element to +-this value.")
    gradient_accumulation_steps: PositiveInt = Field(
        1, description="Apply the summed gradients of this many batches at once (a larger effective batch)."
    )

    @model_validator(mode="after")
    def _fits_optimizer(self) -> Optimizer:
        for param, optimizers in OPTIMIZER_PARAMS.items():
            if getattr(self, param) is not None and self.name not in optimizers:
                raise ValueError(f"'{param}' applies to {', '.join(sorted(optimizers))}, not {self.name}")
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError("give clipnorm or clipvalue, not both")
        return self

    def keras_kwargs(self, learning_rate: object) -> dict[str, object]:
        """Constructor arguments for the Keras optimizer class, with the rate already resolved."""
        extras = self.model_dump(exclude={"name", "learning_rate", "gradient_accumulation_steps"}, exclude_none=True)
        if self.gradient_accumulation_steps > 1:  # Keras takes None (every step) or an integer >= 2
            extras["gradient_accumulation_steps"] = self.gradient_accumulation_steps
        return {"learning_rate": learning_rate, **extras}
