"""A job's life as a list of Server-Sent Events whose ids are computed from stored data alone.

Nothing remembers which events a client has seen: the list is rebuilt from the job row and its epochs at every
poll, and a client gets the events whose id is above the last one it got (its `Last-Event-ID`). That is what
makes a reconnect continue without gaps or repeats, on any API process.

Ids: with `p` the number of epochs recorded (an epoch's 1-based position in `JobStore.read_epochs`, CV folds
first, then the final model):

- `progress` of the epoch at position p: `4p`;
- `status` events: `4p + 1` queued, `4p + 2` running, `4p + 3` terminal, p being the epochs recorded by then.

So a job that runs straight through reads `1` queued, `2` running, `4, 8, ..., 4E` progress, `4E + 3` succeeded.
A job put back in the queue after its worker died shows `queued` at `4p + 1`; the following `running` is implied
by the next progress events (the stored data does not say how many epochs there were when it was claimed again);
one requeued before its first epoch shows no second `queued` (its id would be the first one's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.jobs.schemas import Job, JobStatus

RANK = {JobStatus.QUEUED: 1, JobStatus.RUNNING: 2}
TERMINAL_RANK = 3

#: (fold or None, epoch, metrics, samples per second or None) of each recorded epoch.
Epochs = list[tuple[int | None, int, dict[str, float | None], float | None]]


@dataclass(frozen=True)
class JobEvent:
    id: int
    event: str
    data: dict[str, Any]

    def encode(self) -> str:
        """The event in the `text/event-stream` wire format (data on one line: JSON has no raw newlines)."""
        return f"id: {self.id}\nevent: {self.event}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


def parse_last_event_id(value: str | None) -> int:
    """The id a reconnecting client last got (0 = from the start); ValueError unless it is one of ours."""
    if value is None or value.strip() == "":
        return 0
    number = int(value.strip())
    if number < 0:
        raise ValueError("event ids are not negative")
    return number


def timeline(job: Job, epochs: Epochs) -> list[JobEvent]:
    """Every event of the job that stored data can tell, in id order."""
    events = [_status(job, JobStatus.QUEUED, 0)]
    if job.attempts >= 1 or job.started_at is not None:
        events.append(_status(job, JobStatus.RUNNING, 0))
    events += [_progress(job, position, *epoch) for position, epoch in enumerate(epochs, start=1)]
    if job.status == JobStatus.QUEUED and job.attempts >= 1 and epochs:
        events.append(_status(job, JobStatus.QUEUED, len(epochs)))  # back in the queue: its worker died
    elif job.status.terminal:
        events.append(_status(job, job.status, len(epochs)))
    return events


def events_after(job: Job, epochs: Epochs, cursor: int) -> list[JobEvent]:
    return [event for event in timeline(job, epochs) if event.id > cursor]


def _status(job: Job, status: JobStatus, recorded: int) -> JobEvent:
    rank = TERMINAL_RANK if status.terminal else RANK[status]
    at = {JobStatus.QUEUED: job.created_at, JobStatus.RUNNING: job.started_at}.get(status, job.finished_at)
    data: dict[str, Any] = {"status": status.value, "at": at.isoformat() if at else None}
    if status.terminal:
        data["model"] = job.model.model_dump() if job.model else None
        data["error"] = job.error.model_dump() if job.error else None
        data["progress"] = job.progress.model_dump()
    return JobEvent(4 * recorded + rank, "status", data)


def _progress(
    job: Job, position: int, fold: int | None, epoch: int, metrics: dict[str, Any], rate: float | None
) -> JobEvent:
    """Job.progress as of that epoch: the planned epochs are the current phase's, or the spec's for a CV fold."""
    folds = job.progress.folds or (job.spec.get("cross_validation") or {}).get("folds")
    same_phase = fold == job.progress.fold
    epochs = job.progress.epochs if same_phase else job.spec.get("fit", {}).get("epochs", job.progress.epochs)
    data = {"epoch": epoch, "epochs": epochs, "fold": fold, "folds": folds, "metrics": metrics}
    if rate is not None:  # stored with the epoch, so a replayed stream says the same
        data["samples_per_second"] = rate
    return JobEvent(4 * position, "progress", data)
