"""`--executor slurm`: one Slurm array task per model through submitit.

Like the Ray executor, a task runs its model in a temporary folder and returns every file it
wrote; the driver writes them into DIR/models/NAME as tasks finish. ``slurm_cluster="local"``
runs the array through submitit's local executor on this machine.
"""

from __future__ import annotations

from typing import Any

from robaudit.errors import RobauditError, describe_exception
from robaudit.sweep.executors.base import EXECUTORS, Executor, OnResult, ProgressFor, cache_files, receive
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import JobResult, run_model_elsewhere


@EXECUTORS.register("slurm")
class SlurmExecutor(Executor):
    name = "slurm"

    def launch(self, jobs: list[ModelJob], on_result: OnResult, progress_for: ProgressFor) -> list[JobResult]:
        submitit = _import_submitit()
        executor = submitit.AutoExecutor(folder=self.options.folder / ".submitit" / "%j",
                                         cluster=self.options.slurm_cluster)
        executor.update_parameters(**self._parameters())
        submitted = executor.map_array(run_model_elsewhere, jobs, [cache_files(job) for job in jobs])
        by_id = {task.job_id: job for task, job in zip(submitted, jobs, strict=True)}
        results = []
        self.running = {job.name for job in jobs}
        for task in submitit.helpers.as_completed(submitted, poll_frequency=1):
            job = by_id[task.job_id]
            self.running.discard(job.name)
            result = _collect(task, job)
            results.append(result)
            on_result(result)
        return results

    def _parameters(self) -> dict[str, Any]:
        options = self.options
        parameters: dict[str, Any] = {"timeout_min": options.slurm_time, "cpus_per_task": int(options.cpus_per_model),
                                      "name": "robaudit-sweep"}
        if options.slurm_partition:
            parameters["slurm_partition"] = options.slurm_partition
        if options.slurm_gpus_per_task is not None:
            parameters["slurm_gpus_per_task"] = options.slurm_gpus_per_task
        return parameters


def _collect(task: Any, job: ModelJob) -> JobResult:
    try:
        result, files = task.result()
    except Exception as exc:  # the task died (time limit, node failure, pickling error)
        return JobResult(job.name, job.spec, "failed", describe_exception(exc), 0.0, "unknown", job.fingerprint)
    receive(job, files)
    return result


def _import_submitit() -> Any:
    try:
        import submitit
        import submitit.helpers
    except ImportError:
        raise RobauditError("--executor slurm needs submitit: pip install 'robaudit[slurm]'") from None
    return submitit
