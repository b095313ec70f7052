"""GPUs for local job children: `resources.gpus` of them each, as `CUDA_VISIBLE_DEVICES`, fixed at the child's
start (CUDA, TensorFlow and JAX read it once, at import). A job asking for none sees none, so that it neither
trains on nor reserves memory of (JAX takes most of a GPU's at start) a device another job was given."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable


def visible_gpus() -> list[str]:
    """This machine's GPUs that children may use: those CUDA_VISIBLE_DEVICES lists, else what nvidia-smi sees."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [device.strip() for device in listed.split(",") if device.strip()]
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return []
    try:
        out = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, _ in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


class GpuPool:
    """Hands each job whole devices, free ones first; when too few are free, it shares the least-used ones."""

    def __init__(self, devices: list[str]) -> None:
        self.devices = devices
        self._held: dict[str, tuple[str, ...]] = {}

    def take(self, job_id: str, gpus: float, running: Iterable[str]) -> tuple[str, ...]:
        """Devices for `job_id` (`ceil(gpus)`, at most all of them); what jobs no longer running held is free."""
        alive = set(running)
        self._held = {job: devices for job, devices in self._held.items() if job in alive}
        use = Counter(device for devices in self._held.values() for device in devices)
        wanted = min(math.ceil(gpus), len(self.devices))
        chosen = tuple(sorted(self.devices, key=lambda device: use[device])[:wanted])
        self._held[job_id] = chosen
        return chosen
