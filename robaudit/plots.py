"""Matplotlib figures for the report card (Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_hybrid_curves(metrics: dict[str, Any], path: Path) -> Path:
    """p_low / p_high (and softmax) against mixing frequency, per-seed curves faint, f_rev marked."""
    grid = metrics["grid"]["nyquist_fraction"]
    fig, ax = plt.subplots(figsize=(8.4, 4.0), dpi=120)
    for lo, hi in zip(metrics["per_seed_curves"]["p_low"], metrics["per_seed_curves"]["p_high"], strict=True):
        ax.plot(grid, lo, color="tab:blue", alpha=0.2, lw=0.8)
        ax.plot(grid, hi, color="tab:red", alpha=0.2, lw=0.8)
    curves = metrics["curves"]
    ax.plot(grid, curves["p_low"], "o-", color="tab:blue", label="p_low (follows low-freq image)")
    ax.plot(grid, curves["p_high"], "s-", color="tab:red", label="p_high (follows high-freq image)")
    ax.plot(grid, curves["softmax_low"], "--", color="tab:blue", alpha=0.6, label="mean softmax, low class")
    ax.plot(grid, curves["softmax_high"], "--", color="tab:red", alpha=0.6, label="mean softmax, high class")
    f_rev = metrics["f_rev"]["nyquist_fraction"]["value"]
    if f_rev is not None:
        ax.axvline(f_rev, color="k", ls=":", label=f"f_rev = {f_rev:.3f} Nyquist")
    ax.set_xscale("symlog", linthresh=0.03, linscale=0.5)
    ax.set_xlim(0, max(grid) * 1.05)
    ax.set_xlabel("mixing frequency (fraction of Nyquist; ×0.5 for cycles/pixel)")
    ax.set_ylabel("fraction of hybrids")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Hybrid images")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
