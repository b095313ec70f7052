"""What every kind of job shares in its child, importable without Keras: the plan a kind's planner hands
run_job, what a sink hands back (Delivery), how a sweep trial ends early (TrialPruned), and the crash tests'
failpoints. A profile or batch-prediction child imports this, never the training modules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.jobs.schemas import ModelRef

if TYPE_CHECKING:
    from app.training.pipeline import Reporter
    from app.worker.sinks import Sink
    from app.worker.strategies import Strategy


@dataclass(frozen=True)
class Plan:
    """One job's run: its context (JobContext, ScoringContext or ProfileContext), strategy and sink, and the
    reporter the strategy tells: the job's StoreReporter for training; None for the kinds that report rows
    through their context (profile, predict, evaluate), which need no training reporter."""

    context: Any
    strategy: Strategy
    sink: Sink
    reporter: Reporter | None = None


@dataclass(frozen=True)
class Delivery:
    """What the job's row records once its outcome is delivered: the version it published (if any), its final
    metrics and held-out test metrics."""

    model: ModelRef | None
    final: dict[str, float | None]
    test: dict[str, float | None] | None = None


class TrialPruned(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch


def failpoint(name: str) -> None:
    """Die here, as a crash would, when MAAS_FAILPOINT names this point: lets the crash tests hit the exact
    moment they are about (e.g. between publishing a model and recording it), which a timed kill cannot."""
    if os.environ.get("MAAS_FAILPOINT") == name:
        os._exit(137)
