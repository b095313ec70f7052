"""What runs inside a job's child process: load data, build, fit, publish, record the outcome.

The module imports nothing heavy at the top so that the parent can name it as a spawn target; the child itself
imports what its jobs need before it is handed one, which is what makes a pre-started child start a job at once:
Keras and TensorFlow for a training child, only the light kinds' modules for a light one (profile, predict),
which then never loads TensorFlow.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from app.heap import keep_freed_memory
from app.native_logs import quiet_native_startup
from app.settings import Settings
from app.training.backends import Backend, use_backend, use_compile_cache

log = logging.getLogger("maas.child")


def _exit_when_orphaned(parent_pid: int) -> None:
    """A child must not outlive its supervisor: a crashed supervisor's job is requeued and run elsewhere."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(70)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


@dataclass(frozen=True)
class ChildProfile:
    """What a child is started for, fixed before it imports Keras: the backend Keras loads, the GPUs it sees, and
    whether it runs a light kind of job (app/worker/job_kinds.py), without importing Keras ahead of it."""

    backend: Backend
    gpus: tuple[str, ...] = ()
    light: bool = False

    def apply(self) -> None:
        use_backend(self.backend)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus)


def child_main(conn: Connection, settings: Settings, parent_pid: int, profile: ChildProfile) -> None:
    """Entry point of a spawned child: warm up, wait for one job id, run it, exit."""
    _exit_when_orphaned(parent_pid)
    keep_freed_memory()
    profile.apply()
    use_compile_cache(settings.cache_dir / "jax")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Import the job's modules now, while idle (Keras and TensorFlow unless light), so that a job starts at once.
    with quiet_native_startup():
        from app.worker.job_kinds import import_planners
        from app.worker.job_run import run_job

        import_planners(light=profile.light)
    # What was imported lives as long as the child: moved out of the collector's sight, so that the full
    # collections a training loop's garbage triggers do not walk ~470k objects each (0.2 s of a JAX job's start).
    gc.freeze()

    job_id = conn.recv()
    if job_id is not None:
        run_job(job_id, settings)
