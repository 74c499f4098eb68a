"""robaudit: audit image classifiers for robustness through the lens of spatial frequency.

Public API (mirrors the CLI); heavy modules are imported lazily::

    from robaudit import SuiteConfig, run_suite, load_model, load_dataset
    report = run_suite(SuiteConfig(model="timm:resnet18", data="imagenet", data_dir=...))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_model": "robaudit.models",
    "list_models": "robaudit.models",
    "AuditedModel": "robaudit.models",
    "load_dataset": "robaudit.data",
    "check_compatible": "robaudit.data",
    "SuiteConfig": "robaudit.suite_config",
    "assemble_config": "robaudit.suite_config",
    "validate_report": "robaudit.report_schema",
    "run_suite": "robaudit.suite",
    "PROBES": "robaudit.probes",
    "ProbeContext": "robaudit.probes",
    "RobauditError": "robaudit.errors",
    "evaluate_policy": "robaudit.policy",
}


def __getattr__(name: str) -> Any:
    if name == "evaluate_policy":
        return importlib.import_module("robaudit.policy").evaluate
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'robaudit' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
