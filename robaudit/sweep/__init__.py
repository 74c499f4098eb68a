"""`robaudit sweep`: audit every model of a zoo file, on this machine, a Ray cluster or Slurm."""

from robaudit.sweep.plan import ModelJob, plan_sweep
from robaudit.sweep.runner import SweepOutcome, run_sweep
from robaudit.sweep.zoo import zoo_schema

__all__ = ["ModelJob", "SweepOutcome", "plan_sweep", "run_sweep", "zoo_schema"]
