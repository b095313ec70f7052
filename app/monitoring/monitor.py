"""DriftMonitor: computes a version's drift over a window of its logged payloads, and keeps what the standard
check (the last `DEFAULT_HOURS`, the default thresholds) found per version, so that `drift.detected` is
emitted when a version turns drifted, not on every check while it stays so. The check runs on request
(`GET .../drift`) and every `check_s` seconds for the models whose payloads are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from app.errors import Conflict, NotFound
from app.monitoring.baseline import BASELINE_FILE, Baseline
from app.monitoring.drift import DriftReport, Thresholds, compare, feature_names
from app.registry import Registry

log = logging.getLogger("maas.drift")
DEFAULT_HOURS = 24.0
MAX_ROWS = 100_000  # the newest rows of a window that are compared


class Payloads(Protocol):
    """What the monitor reads of the payload log (app.serving.payload_log.PayloadLog)."""

    rates: dict[str, float]

    def flush(self, timeout: float = 30.0) -> None: ...

    def read_window(
        self, model: str, version: int, since: datetime, until: datetime, *, max_rows: int
    ) -> tuple[np.ndarray, np.ndarray] | None: ...

    def logged_versions(self, model: str) -> list[int]: ...


Observer = Callable[[str, int, DriftReport], None]


class DriftMonitor:
    def __init__(
        self,
        registry: Registry,
        payloads: Payloads,
        *,
        observe: Observer,
        detected: Callable[[str, dict[str, object]], None],
        check_s: float,
    ) -> None:
        self.registry, self.payloads, self.check_s = registry, payloads, check_s
        self._observe, self._detected = observe, detected
        self._drifted: dict[tuple[str, int], bool] = {}

    def drift(self, name: str, version: int, *, hours: float, thresholds: Thresholds) -> DriftReport:
        """The drift of `name` v`version` over the last `hours` (blocking: registry and Parquet reads)."""
        meta = self.registry.read_version(name, version)  # NotFound first
        raw = self.registry.read_version_file(name, version, BASELINE_FILE)
        if raw is None:
            raise Conflict(
                f"version {version} of model {name!r} has no drift baseline: it was published before maas recorded "
                "one; a version trained from now on has one"
            )
        baseline = Baseline.model_validate_json(raw)
        until = datetime.now(UTC)
        since = until - timedelta(hours=hours)
        self.payloads.flush()
        logged = self.payloads.read_window(name, version, since, until, max_rows=MAX_ROWS)
        names = feature_names(meta.dataset, len(baseline.features))
        report = compare(baseline, logged, names=names, window=(since, until), thresholds=thresholds)
        if hours == DEFAULT_HOURS and thresholds == Thresholds():
            self._standard(name, version, report)
        return report

    def _standard(self, name: str, version: int, report: DriftReport) -> None:
        """The standard check's outcome: the gauges, and `drift.detected` when the version turns drifted."""
        self._observe(name, version, report)
        was = self._drifted.get((name, version), False)
        self._drifted[(name, version)] = report.drifted
        if report.drifted and not was:
            data = {"name": name, "version": version, **report.model_dump(mode="json", by_alias=True)}
            self._detected("drift.detected", data)

    def check_all(self) -> None:
        """The standard check of every logged version of every model whose payloads are logged now."""
        for name, rate in list(self.payloads.rates.items()):
            if rate <= 0:
                continue
            for version in self.payloads.logged_versions(name):
                try:
                    self.drift(name, version, hours=DEFAULT_HOURS, thresholds=Thresholds())
                except (NotFound, Conflict):  # deleted since, or published before baselines: nothing to check
                    continue

    async def run(self) -> None:
        """Check every `check_s` seconds until cancelled; a failed round is logged and the next one tried."""
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await asyncio.to_thread(self.check_all)
            except Exception:
                log.warning("drift check failed", exc_info=True)
