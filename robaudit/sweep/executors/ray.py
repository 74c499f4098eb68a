"""`--executor ray`: one Ray task per model; report cards come back through the object store.

Workers need no filesystem shared with the driver: a task runs the model in a temporary folder
and returns every file it wrote (report card, arrays, figures, partial-result caches) as bytes;
the driver writes them into DIR/models/NAME as each task finishes. Workers do need the dataset
and the weights, by path or download.
"""

from __future__ import annotations

from typing import Any

from robaudit.sweep.executors.base import EXECUTORS, Executor, OnResult, ProgressFor, cache_files, receive
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import JobResult, run_model_elsewhere


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    name = "ray"

    def launch(self, jobs: list[ModelJob], on_result: OnResult, progress_for: ProgressFor) -> list[JobResult]:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(address=self.options.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        gpus = self.options.gpus_per_model
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        task = ray.remote(num_cpus=self.options.cpus_per_model, num_gpus=gpus,
                          max_retries=self.options.max_retries)(run_model_elsewhere)
        pending: dict[Any, ModelJob] = {task.remote(job, cache_files(job)): job for job in jobs}
        results = []
        self.running = {job.name for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            self.running.discard(job.name)
            result = _get(ray, done[0], job)
            results.append(result)
            on_result(result)
        return results


def _get(ray: Any, ref: Any, job: ModelJob) -> JobResult:
    """The task's result with its files written; a lost worker (after retries) is a failed model."""
    from robaudit.errors import describe_exception

    try:
        result, files = ray.get(ref)
    except Exception as exc:  # ray.exceptions.RayError subclasses: worker/node lost after retries
        return JobResult(job.name, job.spec, "failed", describe_exception(exc), 0.0, "unknown", job.fingerprint)
    receive(job, files)
    return result


def _import_ray() -> Any:
    from robaudit.errors import RobauditError

    try:
        import ray
    except ImportError:
        raise RobauditError("--executor ray needs Ray: pip install 'robaudit[ray]'") from None
    return ray
