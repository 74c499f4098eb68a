"""Aggregates of the corruption probe (docs/metrics.md): means by corruption, category, severity, overall,
and the mCE-style error relative to a baseline report.

Accuracies arrive as ``{corruption: {"1": acc, ..., "5": acc}}`` (severity keys are strings, as
in the JSON report). All means are unweighted means over corruptions and severities.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from robaudit.corruptions import CATEGORIES
from robaudit.errors import RobauditError

Accuracy = dict[str, dict[str, float]]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise(accuracy: Accuracy, severities: list[int]) -> dict[str, Any]:
    """corruption_mean, category_mean (low/mid/high, null where none ran), severity_mean and
    overall_mean of the accuracy table."""
    keys = [str(s) for s in severities]
    per_corruption = {c: _mean([row[k] for k in keys]) for c, row in accuracy.items()}
    category = {
        cat: _mean([accuracy[c][k] for c in names if c in accuracy for k in keys])
        for cat, names in CATEGORIES.items()
    }
    per_severity = {k: _mean([row[k] for row in accuracy.values()]) for k in keys}
    overall = _mean([row[k] for row in accuracy.values() for k in keys])
    return {"corruption_mean": per_corruption, "category_mean": category,
            "severity_mean": per_severity, "overall_mean": overall}


def load_baseline(path: str | Path) -> dict[str, Any]:
    """The corruptions section of a robaudit report.json (the baseline for relative error)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise RobauditError(f"baseline report {file} does not exist; pass a robaudit report.json")
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
        section: dict[str, Any] = report["probes"]["corruptions"]
        section["accuracy"], section["clean_accuracy"]  # noqa: B018 - presence check
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise RobauditError(
            f"{file} has no probes.corruptions accuracy table; run `robaudit score --probes "
            "corruptions` on the baseline model first"
        ) from None
    return section


def relative_error(accuracy: Accuracy, clean: float, baseline: dict[str, Any],
                   severities: list[int]) -> dict[str, Any]:
    """Hendrycks & Dietterich's corruption errors against a baseline model:
    CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c}; relative CE_c = Σ_s (E_{s,c} − E_clean) /
    Σ_s (E^base_{s,c} − E^base_clean); mCE and relative mCE are their means over corruptions.
    Corruptions or severities missing from the baseline are skipped (listed in ``missing``)."""
    base_acc: Accuracy = baseline["accuracy"]
    base_clean = float(baseline["clean_accuracy"])
    keys = [str(s) for s in severities]
    ce, rel, missing = {}, {}, []
    for name, row in accuracy.items():
        base_row = base_acc.get(name, {})
        if any(k not in base_row or base_row[k] is None for k in keys):
            missing.append(name)
            continue
        err = sum(1 - row[k] for k in keys)
        base_err = sum(1 - base_row[k] for k in keys)
        ce[name] = err / base_err if base_err > 0 else None
        gap = sum((1 - row[k]) - (1 - clean) for k in keys)
        base_gap = sum((1 - base_row[k]) - (1 - base_clean) for k in keys)
        rel[name] = gap / base_gap if base_gap > 0 else None
    return {
        "ce": ce, "mce": _mean([v for v in ce.values() if v is not None]),
        "relative_ce": rel, "relative_mce": _mean([v for v in rel.values() if v is not None]),
        "baseline_clean_accuracy": base_clean, "missing": missing,
    }
