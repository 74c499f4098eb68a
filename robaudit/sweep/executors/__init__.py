"""Sweep executors: local, ray and slurm, registered in EXECUTORS."""

from robaudit.sweep.executors import local, ray, slurm  # noqa: F401  (register the executors)
from robaudit.sweep.executors.base import EXECUTORS, Executor, ExecutorOptions

__all__ = ["EXECUTORS", "Executor", "ExecutorOptions"]
