"""SweepSpec: the body of `POST /sweeps` — a base training spec, a search space over its fields, and the search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from app.registry.names import NAME_PATTERN
from app.training.strict import Strict


class FloatParam(Strict):
    """A real number in [low, high]; `log` samples it on a log scale (learning rates, penalties)."""

    type: Literal["float", "log_uniform", "uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _range(self) -> FloatParam:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.type == "log_uniform" and self.low <= 0:
            raise ValueError(f"log_uniform needs low > 0, got {self.low}")
        return self


class IntParam(Strict):
    type: Literal["int"]
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class ChoiceParam(Strict):
    type: Literal["choice"]
    choices: list[Any] = Field(min_length=1)


Param = Annotated[FloatParam | IntParam | ChoiceParam, Field(discriminator="type")]


class Objective(Strict):
    metric: str = Field("val_loss", description="A metric of the trial's final epoch, e.g. val_accuracy.")
    direction: Literal["minimize", "maximize"] = "minimize"


class Pruner(Strict):
    type: Literal["median", "successive_halving"]
    n_startup_trials: int = Field(2, ge=0, description="median: trials that finish before any is pruned.")
    n_warmup_steps: int = Field(1, ge=0, description="median: epochs of a trial before it may be pruned.")
    min_resource: int = Field(1, ge=1, description="successive_halving: epochs before the first rung.")
    reduction_factor: int = Field(3, ge=2, description="successive_halving: 1/factor of trials go on.")


class SweepSpec(Strict):
    model_name: str = Field(pattern=NAME_PATTERN, description="The best trial's model is published under it.")
    base: dict[str, Any] = Field(description="A training spec; trials change the fields in `search_space`.")
    search_space: dict[str, Param] = Field(min_length=1, description="Spec path -> range, e.g. optimizer.name.")
    trials: int = Field(10, ge=1, le=1000)
    parallelism: int = Field(1, ge=1, le=64)
    objective: Objective = Field(default_factory=Objective)
    pruner: Pruner | None = None
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    alias: str | None = Field(None, pattern=NAME_PATTERN, description="Moved to the published best version.")

    @model_validator(mode="after")
    def _grid_needs_choices(self) -> SweepSpec:
        if self.sampler == "grid":
            ranged = [path for path, p in self.search_space.items() if not isinstance(p, ChoiceParam)]
            if ranged:
                raise ValueError(f"the grid sampler needs 'choice' parameters; {ranged} are ranges")
        return self
