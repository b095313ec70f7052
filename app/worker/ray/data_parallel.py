"""A data-parallel job (`resources.workers > 1`) from its Ray task: Ray Train runs N TensorFlow workers (see
app/worker/ray/train_worker.py), and this task, their driver, turns what rank 0 left into the usual `Outcome`,
which the job's sink then publishes or stages like any other (each replica's weight hash goes along in its
metadata).

The task itself reserves no CPU (it only waits): the workers reserve the spec's `cpus`/`gpus`/`memory_gb` each.
Ray Train's controller is an actor this task creates, and the workers are the controller's, so cancelling the
task (Ray kills its process) takes the whole worker group with it. Epoch checkpoints are the job's usual ones,
written by rank 0; a rerun of the job starts every worker from the last of them.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from app.errors import ClaimLost
from app.training.fit import FitResult
from app.training.pipeline import Outcome
from app.training.spec import TrainingSpec
from app.worker.context import JobContext
from app.worker.ray.executor import PLACEMENT_GROUP, release_placement_group
from app.worker.ray.train_worker import FINAL_MODEL, Plan, read_result, replica_file, train_worker

log = logging.getLogger("maas.child")


def _scaling(spec: TrainingSpec) -> Any:
    from ray.train import ScalingConfig

    resources = spec.resources
    per_worker: dict[str, float] = {"CPU": resources.cpus}
    if resources.gpus:
        per_worker["GPU"] = resources.gpus
    if resources.memory_gb is not None:
        per_worker["memory"] = resources.memory_gb * 2**30
    return ScalingConfig(num_workers=resources.workers, use_gpu=bool(resources.gpus), resources_per_worker=per_worker)


def _plan(job: JobContext, output: Path) -> tuple[Plan, Any]:
    # Split here, once: an unseeded split drawn on each worker would give each worker other rows.
    from app.training.pipeline import split_data

    spec = job.spec
    train, held, test = split_data(spec, job.data, job.validation)
    rate = spec.optimizer.learning_rate
    if rate == "auto":  # refused at submit (validate.py); a spec stored before that rule still fails clearly
        raise ValueError("learning_rate 'auto' is not supported with resources.workers > 1")
    seed = spec.seed if spec.seed is not None else job.checkpoints.state()["shuffle_seed"]
    plan = Plan(
        spec=spec.model_dump(mode="json", exclude_none=True),
        source=job.source,
        reporting=job.reporting,
        train=train.xy,
        validation=held.xy if held is not None else None,
        shuffle_seed=seed,
        learning_rate=rate,
        checkpoints=str(job.checkpoints.root.resolve()),
        output=str(output.resolve()),
        placement_group_file=str((output.parent / PLACEMENT_GROUP).resolve()),
        tensorboard=str((output.parent / "tensorboard").resolve()),
    )
    return plan, test


def train_data_parallel(job: JobContext) -> Outcome:
    """Train the job's spec on `resources.workers` Ray Train workers; the model rank 0 kept, as an Outcome."""
    import ray

    if not ray.is_initialized():
        raise RuntimeError("resources.workers > 1 needs the Ray executor (MAAS_EXECUTOR=ray)")
    import keras
    from ray.train import FailureConfig, RunConfig
    from ray.train.tensorflow import TensorflowTrainer

    spec, job_id, work_dir = job.spec, job.job_id, job.work_dir
    env = {"TF_USE_LEGACY_KERAS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if not spec.resources.gpus:  # a GPU-less worker must not grab its node's GPUs
        env["CUDA_VISIBLE_DEVICES"] = ""
    work_dir.mkdir(parents=True, exist_ok=True)
    release_placement_group(work_dir)  # an earlier attempt's, if its task was killed before it could
    output = work_dir / "data-parallel"
    shutil.rmtree(output, ignore_errors=True)  # an interrupted attempt's leftovers
    plan, test = _plan(job, output)
    trainer = TensorflowTrainer(
        train_worker,
        train_loop_config={"plan": plan},
        scaling_config=_scaling(spec),
        run_config=RunConfig(
            name=f"maas-{job_id}",
            storage_path=str((work_dir / "ray-train").resolve()),
            failure_config=FailureConfig(max_failures=0),  # the supervisor decides reruns, as for any job
            worker_runtime_env={"env_vars": env},
        ),
    )
    log.info("job %s trains on %d Ray Train workers", job_id, spec.resources.workers)
    try:
        _fit(trainer, job_id)
        result = read_result(output)
        model = keras.saving.load_model(output / FINAL_MODEL, safe_mode=True)
        hashes = [replica_file(output, rank).read_text() for rank in range(spec.resources.workers)]
    finally:  # the epoch checkpoints are what a rerun resumes from; these are one attempt's leftovers
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(work_dir / "ray-train", ignore_errors=True)
        (work_dir / PLACEMENT_GROUP).unlink(missing_ok=True)  # Ray Train removed the group as training ended
    test_metrics = None
    if test is not None:
        evaluated = model.evaluate(*test.xy, verbose=0, return_dict=True)
        test_metrics = {k: float(v) for k, v in evaluated.items()}
    fit = FitResult(model, result["history"], result["final"], result["epochs_run"])
    return Outcome(fit, plan.learning_rate, test_metrics, metadata={"replica_weights_sha256": hashes})


def _fit(trainer: Any, job_id: str) -> None:
    """Run the worker group. When it failed because a worker's process or node was lost, end this attempt the
    way a lost node ends a single-process job's (its task dies), so that the supervisor reruns the job and the
    rerun resumes from rank 0's last epoch checkpoint; an error in training itself fails the job as usual."""
    from ray.exceptions import RayActorError
    from ray.train import TrainingFailedError

    try:
        trainer.fit()
    except TrainingFailedError as exc:
        failures = list((getattr(exc, "worker_failures", None) or {}).values())
        # Ray Train wraps a worker's own exception (`_base_exc`) and a dead worker's (`health_check_failure`).
        if any(isinstance(getattr(f, "_base_exc", None), ClaimLost) for f in failures):
            raise ClaimLost() from exc  # cancelled or requeued while rank 0 recorded an epoch: not a failure
        if any(isinstance(getattr(f, "health_check_failure", f), RayActorError) for f in failures):
            log.warning("job %s lost a data-parallel worker; ending this attempt for a rerun", job_id)
            logging.shutdown()
            os._exit(137)
        raise
