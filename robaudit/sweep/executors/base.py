"""The executor interface: ``launch(jobs) -> results``, one registered class per backend.

A backend's own library (ray, submitit) is imported inside ``launch`` only, so choosing the
local executor never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from robaudit.probes.base import ProgressFactory
from robaudit.registry import Registry
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import CACHE_FOLDER, JobResult, read_files, write_files

OnResult = Callable[[JobResult], None]
ProgressFor = Callable[[ModelJob], ProgressFactory]


@dataclass
class ExecutorOptions:
    """Every executor's knobs (each backend reads its own)."""

    folder: Path  # the sweep's --out folder
    jobs: int = 1  # local: worker processes
    address: str | None = None  # ray: None starts a local instance; "auto" or ray://HOST:10001 joins one
    gpus_per_model: float | None = None  # ray: None → 1 when the cluster has GPUs, else 0
    cpus_per_model: float = 1.0
    max_retries: int = 2  # ray: retries on worker or node loss
    slurm_partition: str | None = None
    slurm_gpus_per_task: int | None = None
    slurm_time: int = 240  # minutes
    slurm_cluster: str | None = None  # None: slurm when available; "local" runs on this machine


class Executor(ABC):
    """Runs model jobs somewhere and reports each result as it arrives."""

    name: ClassVar[str]
    # True when the model's bars can be drawn in this process (in-process execution only).
    shows_model_progress: ClassVar[bool] = False

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options
        # Jobs started (for remote backends: handed to the cluster) that have not reported yet;
        # after an interruption these are recorded as interrupted while running.
        self.running: set[str] = set()

    @abstractmethod
    def launch(self, jobs: list[ModelJob], on_result: OnResult, progress_for: ProgressFor) -> list[JobResult]:
        """Run ``jobs``; call ``on_result`` for each as it finishes; return all results."""


EXECUTORS: Registry[type[Executor]] = Registry("executor")


def cache_files(job: ModelJob) -> dict[str, bytes]:
    """The model's partial results from earlier runs, to send to a worker elsewhere."""
    return {f"{CACHE_FOLDER}/{name}": data for name, data in read_files(job.config.out / CACHE_FOLDER).items()}


def receive(job: ModelJob, files: dict[str, bytes]) -> None:
    """Write a remote worker's files into the model's folder (caches first, the report card last)."""
    ordered = sorted(files, key=lambda name: (not name.startswith(CACHE_FOLDER), name == "report.json", name))
    write_files(job.config.out, {name: files[name] for name in ordered})
