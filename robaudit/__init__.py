"""robaudit: audit image classifiers for robustness through the lens of spatial frequency.

Public API (mirrors the CLI); heavy modules are imported lazily::

    from robaudit import SuiteConfig, run_suite, load_model, load_dataset
    report = run_suite(SuiteConfig(model="timm:resnet18", data="imagenet", data_dir=...))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {  # name → (module, attribute); one entry per CLI command's function, and its inputs
    "load_model": ("robaudit.models", "load_model"),
    "list_models": ("robaudit.models", "list_models"),
    "AuditedModel": ("robaudit.models", "AuditedModel"),
    "load_dataset": ("robaudit.data", "load_dataset"),
    "check_compatible": ("robaudit.data", "check_compatible"),
    "SuiteConfig": ("robaudit.suite_config", "SuiteConfig"),
    "assemble_config": ("robaudit.suite_config", "assemble_config"),
    "validate_report": ("robaudit.report_schema", "validate_report"),
    "run_suite": ("robaudit.suite", "run_suite"),  # robaudit score
    "evaluate_policy": ("robaudit.policy", "evaluate"),  # robaudit check
    "load_policy": ("robaudit.policy", "load_policy"),
    "plan_sweep": ("robaudit.sweep", "plan_sweep"),
    "run_sweep": ("robaudit.sweep", "run_sweep"),  # robaudit sweep
    "write_leaderboard": ("robaudit.compare", "write_leaderboard"),  # robaudit compare
    "apply_corruption": ("robaudit.corruptions", "apply_corruption"),  # one batch
    "corrupt_dataset": ("robaudit.corruptions.make_set", "corrupt_dataset"),  # robaudit corrupt
    "TrainSpec": ("robaudit.references.setup", "TrainSpec"),
    "train_reference": ("robaudit.references.train", "train_reference"),  # robaudit train-reference
    "PROBES": ("robaudit.probes", "PROBES"),
    "ProbeContext": ("robaudit.probes", "ProbeContext"),
    "RobauditError": ("robaudit.errors", "RobauditError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'robaudit' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
