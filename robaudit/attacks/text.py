"""Markdown section and terminal summary rows of the adversarial-spectrum probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SUSPECT = "⚠ suspect"


def _num(value: float | None, digits: int = 4) -> str:
    return "null" if value is None else f"{value:.{digits}g}"


def _stats(stats: dict[str, Any] | None) -> str:
    if not stats or stats["median"] is None:
        return "null"
    return f"median {_num(stats['median'])}, mean {_num(stats['mean'])} ± {_num(stats['std'])}"


def _f05(m: dict[str, Any], unit: str) -> str:
    f = m["f_05"][unit]
    if f["value"] is None:
        return f"null ({m['f_05']['reason']})"
    ci = f" [{_num(f['ci_low'])}, {_num(f['ci_high'])}]" if f["ci_low"] is not None else ""
    return f"{_num(f['value'])}{ci}"


def summary_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value) rows for the terminal table; suspect numbers are marked."""
    mark = f" ({SUSPECT})" if m["suspect"] else ""
    rows = [
        ("adversarial f_0.5 (cpp)", _f05(m, "cycles_per_pixel") + mark),
        ("adversarial f_0.5 (Nyquist fraction)", _f05(m, "nyquist_fraction") + mark),
        (f"adversarial minimal {m['norm']} size", _stats(m["size"]) + mark),
    ]
    if m.get("size_255"):
        rows.append(("adversarial minimal linf size (/255)", _stats(m["size_255"]) + mark))
    rows.append(("adversarial success rate", f"{m['success_rate']:.1%} of {m['n_attacked']}"))
    return rows


def markdown(m: dict[str, Any], plots: list[Path]) -> str:
    """The probe's report section: protocol, f_0.5, sizes, attack bookkeeping, sanity checks."""
    p = m["protocol"]
    mode = "targeted (seeded random wrong class)" if m["targeted"] else "untargeted"
    lines = ["## Adversarial spectrum: minimal perturbations and f_0.5", ""]
    if m["suspect"]:
        failed = ", ".join(k for k, v in m["sanity"].items() if v)
        lines += [f"**{SUSPECT}: sanity checks failed ({failed}).** The sizes and f_0.5 below "
                  "may be overestimates (e.g. gradient masking); do not compare them with other "
                  "models.", ""]
    overrides = f"; overridden: {', '.join(p['overrides'])}" if p["overrides"] else ""
    lines += [
        f"Protocol `{p['name']}` ({mode}, {m['norm']}): attacks {', '.join(m['winner_counts'])}; "
        f"{p['steps']} steps, {p['restarts']} restart(s), PGD bisection "
        f"{p['bisection_steps']} × {p['pgd_steps']} steps{overrides}.",
        f"{m['n_attacked']} correctly classified images attacked ({m['n_skipped']} "
        f"misclassified skipped); success rate {m['success_rate']:.1%}.", "",
        "| metric | value |", "|---|---|",
        f"| f_0.5 (cycles/pixel) [95 % bootstrap] | {_f05(m, 'cycles_per_pixel')} |",
        f"| f_0.5 (Nyquist fraction) | {_f05(m, 'nyquist_fraction')} |",
        f"| minimal {m['norm']} size | {_stats(m['size'])} |",
    ]
    if m.get("size_255"):
        lines.append(f"| minimal linf size (×1/255) | {_stats(m['size_255'])} |")
    winners = ", ".join(f"{k} {v}" for k, v in m["winner_counts"].items())
    lines += [
        f"| winning attack (images) | {winners} |",
        f"| rejected candidates (failed verification) | {m['rejected_candidates']} |",
        f"| forward / backward passes (image-passes) | {m['passes']['forward']} / "
        f"{m['passes']['backward']} |",
        "", "| sanity check | result |", "|---|---|",
    ]
    lines += [f"| {name} | {'**FAILED**' if on else 'ok'} |" for name, on in m["sanity"].items()]
    lines += [f"\n![adversarial spectrum]({path.name})" for path in plots]
    return "\n".join(lines)
