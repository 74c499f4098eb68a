"""`--executor local`: models one after another in this process, or in ``--jobs N`` processes."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from robaudit.sweep.executors.base import EXECUTORS, Executor, OnResult, ProgressFor
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import JobResult, run_model


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    name = "local"

    @property
    def shows_model_progress(self) -> bool:  # type: ignore[override]
        return self.options.jobs <= 1

    def launch(self, jobs: list[ModelJob], on_result: OnResult, progress_for: ProgressFor) -> list[JobResult]:
        if self.options.jobs <= 1:
            results = []
            for job in jobs:
                self.running = {job.name}
                results.append(run_model(job, progress_for(job)))
                self.running = set()
                on_result(results[-1])
            return results
        return self._pool(jobs, on_result)

    def _pool(self, jobs: list[ModelJob], on_result: OnResult) -> list[JobResult]:
        """Worker processes (spawned: no CUDA or thread state inherited), CPU threads split between them."""
        workers = min(self.options.jobs, len(jobs)) or 1
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        results = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)) as pool:
            futures = {pool.submit(run_model, job): job for job in jobs}
            try:
                for future in as_completed(futures):
                    results.append(future.result())
                    on_result(results[-1])
            except KeyboardInterrupt:  # the models in the workers' hands were running
                self.running = {job.name for future, job in futures.items() if future.running()}
                raise
        return results
