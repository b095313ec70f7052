"""Payload logging: a sample of each model's requests (inputs, outputs, version, alias, latency, request id,
time) goes through a bounded queue to Parquet files, written in batches by one thread. The request path only
draws the sample and enqueues references; a full queue drops the record and counts it, never blocking.

Files: `<data_dir>/payloads/<model>/<version>/<utc time>-<id>.parquet`.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("maas.payloads")
STAMP = "%Y%m%dT%H%M%S%f"  # a file name's time, in UTC: names sort as times do
SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("us", tz="UTC")),
        ("request_id", pa.string()),
        ("alias", pa.string()),
        ("version", pa.int64()),
        ("inputs", pa.string()),
        ("outputs", pa.string()),
        ("latency_ms", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Record:
    model: str
    version: int
    alias: str | None
    request_id: str | None
    time: datetime
    latency_ms: float
    inputs: np.ndarray
    outputs: np.ndarray


class PayloadLog:
    def __init__(
        self, root: Path, *, max_queued: int, batch_rows: int, flush_s: float, on_drop: Callable[[], None]
    ) -> None:
        self.root = root
        self.batch_rows, self.flush_s, self._on_drop = batch_rows, flush_s, on_drop
        self.rates: dict[str, float] = {}
        self.dropped = 0
        self._queue: queue.Queue[Record | threading.Event | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._write_forever, name="payload-log", daemon=True)
        self._thread.start()

    def load_rates(self, names: list[str], read: Callable[[str], dict[str, Any]]) -> None:
        """The sample rates stored in the registry (at start; PUT /models/{name}/monitoring sets them after)."""
        for name in names:
            self.rates[name] = float(read(name).get("log_sample_rate", 0.0))

    def sampled(self, model: str) -> bool:
        """Whether this request is logged (cheap: on the request path)."""
        rate = self.rates.get(model, 0.0)
        return rate > 0 and (rate >= 1 or random.random() < rate)  # noqa: S311 (sampling, not a secret)

    def add(self, record: Record) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every record enqueued so far is in a file (blocks: for readers)."""
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        done.wait(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def read(self, model: str, version: int, limit: int) -> list[dict[str, Any]]:
        """The latest `limit` records of a version, newest first."""
        rows: list[dict[str, Any]] = []
        for path in sorted((self.root / model / str(version)).glob("*.parquet"), reverse=True):
            rows.extend(reversed(pq.read_table(path).to_pylist()))
            if len(rows) >= limit:
                break
        rows.sort(key=lambda row: row["time"], reverse=True)
        return [_decoded(row) for row in rows[:limit]]

    def read_window(
        self, model: str, version: int, since: datetime, until: datetime, *, max_rows: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The input and output rows logged in [since, until] (the newest `max_rows` of them), stacked; None when
        there are none. A file is named after the time it was written, after its records: older files are skipped
        unread."""
        first = f"{since.astimezone(UTC):{STAMP}}"
        inputs: list[np.ndarray] = []
        outputs: list[np.ndarray] = []
        rows = 0
        for path in sorted((self.root / model / str(version)).glob("*.parquet"), reverse=True):
            if rows >= max_rows or path.name[: len(first)] < first:
                break
            window = [("time", ">=", since), ("time", "<=", until)]
            for row in reversed(pq.read_table(path, columns=["inputs", "outputs"], filters=window).to_pylist()):
                inputs.append(np.asarray(orjson.loads(row["inputs"]), dtype=np.float64))
                outputs.append(np.asarray(orjson.loads(row["outputs"]), dtype=np.float64))
                rows += len(inputs[-1])
        if not inputs:
            return None
        return np.concatenate(inputs)[:max_rows], np.concatenate(outputs)[:max_rows]

    def logged_versions(self, model: str) -> list[int]:
        """The versions of `model` with logged payloads."""
        folder = self.root / model
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []

    def _write_forever(self) -> None:
        pending: list[Record] = []
        deadline = time.monotonic() + self.flush_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = threading.Event()  # a timed flush: write what is pending
            if isinstance(item, Record):
                pending.append(item)
                if len(pending) < self.batch_rows:
                    continue
            self._write(pending)
            pending = []
            deadline = time.monotonic() + self.flush_s
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()

    def _write(self, records: list[Record]) -> None:
        by_version: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            by_version.setdefault((record.model, record.version), []).append(record)
        for (model, version), group in by_version.items():
            try:
                _write_file(self.root / model / str(version), group)
            except OSError:
                log.warning("could not write %d payload records of %s v%s", len(group), model, version, exc_info=True)


def _write_file(folder: Path, records: list[Record]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    columns = {
        "time": [r.time for r in records],
        "request_id": [r.request_id for r in records],
        "alias": [r.alias for r in records],
        "version": [r.version for r in records],
        "inputs": [orjson.dumps(r.inputs, option=orjson.OPT_SERIALIZE_NUMPY).decode() for r in records],
        "outputs": [orjson.dumps(r.outputs, option=orjson.OPT_SERIALIZE_NUMPY).decode() for r in records],
        "latency_ms": [r.latency_ms for r in records],
    }
    name = f"{datetime.now(UTC):{STAMP}}-{uuid.uuid4().hex[:8]}.parquet"
    partial = folder / f".{name}"
    pq.write_table(pa.table(columns, schema=SCHEMA), partial)
    partial.rename(folder / name)  # readers never see half a file


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "inputs": orjson.loads(row["inputs"]), "outputs": orjson.loads(row["outputs"])}
