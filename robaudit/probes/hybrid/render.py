"""The hybrid probe's figure, report.md section and terminal rows.

Every output shows the same f_rev: the crossing of the seed-averaged curve (``value``), in cycles
per pixel and as a Nyquist fraction; mean ± std over seeds is its spread, never a second f_rev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robaudit import plotting
from robaudit.formatting import fmt, fmt_mean_std
from robaudit.probes.base import ProbeResult

FIGURE = "hybrid_curves.png"


def f_rev_text(f_rev: dict[str, Any], unit: str) -> str:
    """The one f_rev in ``unit`` with the seed spread, or 'null (reason)'."""
    stats = f_rev[unit]
    if stats["value"] is None:
        return f"null ({f_rev['reason']})" if f_rev["reason"] else "null"
    spread = fmt_mean_std(stats)
    return f"{fmt(stats['value'])} (seeds: {spread})" if stats["mean"] is not None else fmt(stats["value"])


def plot(result: ProbeResult, out_dir: Path) -> list[Path]:
    """p_low / p_high (and softmax) against mixing frequency, per-seed curves faint, f_rev marked."""
    m = result.metrics
    grid = m["grid"]["nyquist_fraction"]
    with plotting.figure(out_dir / FIGURE, 8.4, 4.0) as (_, ax):
        for lo, hi in zip(m["per_seed_curves"]["p_low"], m["per_seed_curves"]["p_high"], strict=True):
            ax.plot(grid, lo, color="tab:blue", alpha=0.2, lw=0.8)
            ax.plot(grid, hi, color="tab:red", alpha=0.2, lw=0.8)
        curves = m["curves"]
        ax.plot(grid, curves["p_low"], "o-", color="tab:blue", label="p_low (follows low-freq image)")
        ax.plot(grid, curves["p_high"], "s-", color="tab:red", label="p_high (follows high-freq image)")
        ax.plot(grid, curves["softmax_low"], "--", color="tab:blue", alpha=0.6, label="mean softmax, low class")
        ax.plot(grid, curves["softmax_high"], "--", color="tab:red", alpha=0.6, label="mean softmax, high class")
        f_rev = m["f_rev"]
        if f_rev["nyquist_fraction"]["value"] is not None:
            ax.axvline(f_rev["nyquist_fraction"]["value"], color="k", ls=":",
                       label=f"f_rev = {fmt(f_rev['cycles_per_pixel']['value'], '.3f')} cpp "
                             f"({fmt(f_rev['nyquist_fraction']['value'], '.3f')} Nyquist)")
        ax.set_xscale("symlog", linthresh=0.03, linscale=0.5)
        ax.set_xlim(0, max(grid) * 1.05)
        ax.set_xlabel("mixing frequency (fraction of Nyquist; ×0.5 for cycles/pixel)")
        ax.set_ylabel("fraction of hybrids")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        title = "Hybrid images" if f_rev["cycles_per_pixel"]["value"] is not None else "Hybrid images: no f_rev"
        ax.set_title(title)
    return [out_dir / FIGURE]


def markdown(result: ProbeResult, plots: list[Path]) -> str:
    """The report.md section: f_rev (one value, two units), the clean check and the curves."""
    m = result.metrics
    f_rev = m["f_rev"]
    lines = [
        "## Hybrid images: reversal frequency f_rev", "",
        f"{m['n_pairs']} hybrid pairs × {m['seeds']} pairing seeds × "
        f"{len(m['grid']['cycles_per_pixel'])} mixing frequencies; clean accuracy "
        f"{fmt(m['clean_accuracy'], '.3f')} on the {m['n_clean_images']} images used "
        f"(chance {fmt(m['chance_accuracy'], '.3f')}).",
        "",
        "| unit | f_rev (seed-averaged curve) | mean ± std across seeds |", "|---|---|---|",
    ]
    for unit in ("cycles_per_pixel", "nyquist_fraction"):
        lines.append(f"| {unit} | {fmt(f_rev[unit]['value'])} | {fmt_mean_std(f_rev[unit])} |")
    if f_rev["reason"]:
        lines += ["", f"**f_rev is null:** {f_rev['reason']}"]
    lines += ["", "| f (Nyquist fraction) | p_low | p_high |", "|---|---|---|"]
    for f, lo, hi in zip(m["grid"]["nyquist_fraction"], m["curves"]["p_low"], m["curves"]["p_high"], strict=True):
        lines.append(f"| {f:.3f} | {lo:.3f} | {hi:.3f} |")
    lines += [f"\n![hybrid curves]({p.name})" for p in plots]
    return "\n".join(lines)


def summary_rows(result: ProbeResult) -> list[tuple[str, str]]:
    """Terminal rows: the one f_rev in both units, and the clean accuracy it rests on."""
    m = result.metrics
    return [("hybrid f_rev (cpp)", f_rev_text(m["f_rev"], "cycles_per_pixel")),
            ("hybrid f_rev (Nyquist fraction)", f_rev_text(m["f_rev"], "nyquist_fraction")),
            ("hybrid clean accuracy", f"{fmt(m['clean_accuracy'], '.3f')} on {m['n_clean_images']} images")]
