"""RayExecutor: each claimed job runs as one Ray task, on whichever node of a Ray cluster has the CPUs, GPUs and
memory its spec asks for (`resources`).

The supervisor above it is unchanged: it claims jobs, heartbeats them and decides retries. Ray only places and
runs the work, so the task has `max_retries=0`: when a node is lost its task fails, the supervisor requeues the
job, and the next run resumes from the job's last epoch checkpoint (checkpoints, datasets and the registry live
under the data dir, which every node must share). Each task gets a fresh worker process (`max_calls=1`), as a
local job gets a fresh child: nothing of one job's TensorFlow state leaks into the next, and a finished job's
memory goes back to its node at once.

A data-parallel job (`resources.workers > 1`) runs the same way, except that its task reserves nothing itself:
it drives a Ray Train worker group that reserves `resources` once per worker (app/worker/ray/data_parallel.py).

Ray is imported only when this executor is built, so the default local mode does not need it installed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.jobs.schemas import JobError
from app.jobs.store import JobStore
from app.settings import Settings
from app.training.backends import backend_of, use_backend
from app.training.spec import Resources

log = logging.getLogger("maas.worker")

#: What `exit_code()` reports, in the local executor's terms: the task returned; the task raised (run_job
#: records its own failures, so this is a bug or a broken install); the task was cancelled or its worker
#: process or node died (what SIGKILL is for a local child).
RETURNED, RAISED, KILLED = 0, 1, -9

_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

#: Where, in a data-parallel job's directory, its Ray Train workers record the placement group they run in.
PLACEMENT_GROUP = "ray-train-placement-group"


def _on_loopback(address: str | None) -> bool:
    """A local Ray, or a cluster whose head is on this machine's loopback."""
    if address is None:
        return True
    host = address.split("://", 1)[-1].rsplit(":", 1)[0]
    return host in _LOOPBACK


def connect(settings: Settings) -> None:
    """Join the Ray cluster at MAAS_RAY_ADDRESS, or start a local Ray bound to 127.0.0.1 when it is unset."""
    if _on_loopback(settings.ray_address):
        # Ray resolves "127.0.0.1" to the machine's own network address, then cannot reach a loopback-bound head
        # (and would advertise that address). With multi-node clusters off for this process, its own address
        # stays 127.0.0.1. It is read when Ray is imported, hence before the import.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return
    options: dict[str, Any] = {"address": settings.ray_address or "local", "logging_level": logging.WARNING}
    if settings.ray_address is None:  # maas' own private Ray: loopback only, no dashboard, no usage reports
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options.update(_node_ip_address="127.0.0.1", include_dashboard=False)
    in_main = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main else None
    ray.init(**options)
    if in_main:  # ray.init installs a SIGTERM handler that exits at once; maas' own shutdown must run instead
        signal.signal(signal.SIGTERM, sigterm)


def _run_on_ray(job_id: str, settings: Settings) -> int:
    """The Ray task: run the job exactly as a local child would (run_job records every outcome itself)."""
    import ray

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not ray.get_gpu_ids():  # Ray leaves a GPU-less task all of its node's GPUs; this job asked for none
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    store = JobStore(settings.resolved_database_url)
    try:  # which process on which node trains it: what `worker.pid` shows, as for a local child
        store.set_worker_pid(job_id, os.getpid())
        job = store.read_job(job_id)
        use_backend(backend_of(job.spec, settings.keras_backend, kind=job.kind))  # before Keras loads
    finally:
        store.close()
    from app.worker.job_run import run_job

    run_job(job_id, settings)
    return RETURNED


def _portable(settings: Settings) -> Settings:
    """The settings a task on another node needs: absolute paths (its working directory is not ours)."""
    return settings.model_copy(
        update={
            "data_dir": settings.data_dir.resolve(),
            "registry_dir": settings.registry_location,
            "database_url": settings.resolved_database_url,
        }
    )


@dataclass
class RayJob:
    """A job's Ray task, watched through its ObjectRef without ever blocking the supervisor."""

    job_id: str
    ref: Any = None
    pid: int | None = None  # the task's process lives on some node; the task itself records it on the job
    code: int | None = None
    work_dir: Path | None = None  # a data-parallel job's directory

    def _settle(self) -> int | None:
        if self.code is None and self.ref is not None:
            import ray

            ready, _ = ray.wait([self.ref], timeout=0)
            if ready:
                self.code = _outcome(self.job_id, self.ref)
                if self.code != RETURNED and self.work_dir is not None:
                    release_placement_group(self.work_dir)
        return self.code

    def is_alive(self) -> bool:
        return self._settle() is None

    def exit_code(self) -> int | None:
        return self._settle()

    def kill(self) -> None:
        """Force-cancel: Ray kills the task's worker process, wherever it runs."""
        if self._settle() is not None:
            return
        import ray

        ray.cancel(self.ref, force=True)
        ray.wait([self.ref], timeout=10)
        self._settle()


def _outcome(job_id: str, ref: Any) -> int:
    import ray
    from ray.exceptions import RayTaskError, TaskCancelledError

    try:
        return int(ray.get(ref, timeout=0))
    except TaskCancelledError:
        return KILLED
    except RayTaskError as exc:
        log.error("job %s: its Ray task raised: %s", job_id, exc)
        return RAISED
    except ray.exceptions.RayError as exc:  # the worker process or its node died
        log.warning("job %s: its Ray task was lost: %s", job_id, type(exc).__name__)
        return KILLED


class RayExecutor:
    """Runs each job as a Ray task with the resources its spec asks for."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self._settings = _portable(settings)
        self._store = store
        connect(settings)
        import ray

        self._task = ray.remote(max_calls=1)(_run_on_ray)

    def start(self, job_id: str) -> RayJob:
        job = self._store.read_job(job_id)
        resources = Resources.model_validate(job.spec.get("resources") or {})
        unschedulable = _unschedulable(resources)
        if unschedulable and job.worker is not None:
            # No node could ever run it: fail now with the reason instead of waiting forever for resources.
            log.error("job %s failed: %s", job_id, unschedulable)
            self._store.runs.fail(job_id, job.worker.id, JobError(type="Unschedulable", message=unschedulable))
            return RayJob(job_id, code=RAISED)
        options: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "num_gpus": resources.gpus,
            "max_retries": 0,
            "name": f"maas-job-{job_id}",
        }
        if resources.memory_gb is not None:
            options["memory"] = int(resources.memory_gb * 2**30)
        if resources.workers > 1:  # the task only drives its Ray Train workers, which reserve the resources
            options.update(num_cpus=0, num_gpus=0)
            options.pop("memory", None)
        try:
            ref = self._task.options(**options).remote(job_id, self._settings)
        except Exception:  # Ray unreachable, say: a dead attempt, which the supervisor retries like any other
            log.exception("job %s: could not submit its Ray task", job_id)
            return RayJob(job_id, code=RAISED)
        return RayJob(job_id, ref, work_dir=self._settings.jobs_dir / job_id if resources.workers > 1 else None)

    def idle(self) -> None:
        """Nothing to pre-warm: Ray keeps its own worker pool on each node."""

    def close(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()


def release_placement_group(work_dir: Path) -> None:
    """Give back what a data-parallel attempt's Ray Train workers reserved. Ray Train removes its placement group
    when training ends; when the job's task is killed instead (cancel, a lost node), its own cleaner needs the
    dashboard's state API, which maas' private Ray runs without, and the group would hold its CPUs until the
    maas server exits. Removing it also ends any worker still in it."""
    recorded = work_dir / PLACEMENT_GROUP
    if not recorded.is_file():
        return
    import ray
    from ray.util.placement_group import PlacementGroup, remove_placement_group

    try:
        remove_placement_group(PlacementGroup(ray.PlacementGroupID(bytes.fromhex(recorded.read_text().strip()))))
    except Exception:  # already removed (training ended), or Ray unreachable: nothing more to do here
        log.debug("placement group in %s: not removed", work_dir, exc_info=True)
    recorded.unlink(missing_ok=True)


def _unschedulable(resources: Resources) -> str | None:
    """Why no live node of the cluster can ever fit `resources`, or None when one can. A cluster without any
    worker CPUs right now (its nodes are restarting, or not started yet) gets the benefit of the doubt: the task
    waits for them."""
    import ray

    wanted = {"CPU": resources.cpus, "GPU": resources.gpus}
    if resources.memory_gb is not None:
        wanted["memory"] = resources.memory_gb * 2**30
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0) > 0]
    if not nodes:
        return None
    if any(all(node.get(k, 0) >= v for k, v in wanted.items() if v) for node in nodes):
        return _too_few_for_workers(resources, nodes)
    largest = max((node.get("CPU", 0) for node in nodes), default=0)
    asked = f"{resources.cpus:g} CPU, {resources.gpus:g} GPU" + (
        f", {resources.memory_gb:g} GB memory" if resources.memory_gb is not None else ""
    )
    return f"no node of the Ray cluster has {asked} (the largest has {largest:g} CPU)"


def _too_few_for_workers(resources: Resources, nodes: list[dict[str, float]]) -> str | None:
    """Why the live nodes together cannot hold all of a data-parallel job's workers at once, or None."""
    fits = sum(min(node.get("CPU", 0) // resources.cpus, _per_gpu(node, resources)) for node in nodes)
    if fits >= resources.workers:
        return None
    return f"the Ray cluster fits {fits:g} of the {resources.workers} workers of {resources.cpus:g} CPU each"


def _per_gpu(node: dict[str, float], resources: Resources) -> float:
    return node.get("GPU", 0) // resources.gpus if resources.gpus else float("inf")
