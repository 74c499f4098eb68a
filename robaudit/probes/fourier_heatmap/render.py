"""Figures, Markdown and summary rows of the fourier_heatmap probe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robaudit import plotting
from robaudit.formatting import fmt
from robaudit.probes.base import ProbeResult


def _fmt(value: float | None) -> str:
    return fmt(value, ".3f")


def plot(result: ProbeResult, out_dir: Path) -> list[Path]:
    """fourier_heatmap.png (error per frequency, DC at the centre) and fourier_heatmap_radial.png."""
    m = result.metrics
    error, fy, fx = (np.asarray(result.arrays[k]) for k in ("error", "fy", "fx"))
    paths = []
    if error.size:
        paths.append(_heatmap(error, fy, fx, m, out_dir / "fourier_heatmap.png"))
    paths.append(_radial(m, out_dir / "fourier_heatmap_radial.png"))
    return paths


def _heatmap(error: np.ndarray, fy: np.ndarray, fx: np.ndarray, m: dict[str, Any], path: Path) -> Path:
    with plotting.figure(path, 5.2, 4.4) as (fig, ax):
        dy = (fy[1] - fy[0]) / 2 if len(fy) > 1 else 0.5
        dx = (fx[1] - fx[0]) / 2 if len(fx) > 1 else 0.5
        image = ax.imshow(error, origin="lower", cmap="jet", vmin=0.0, vmax=1.0, interpolation="nearest",
                          extent=(fx[0] - dx, fx[-1] + dx, fy[0] - dy, fy[-1] + dy))
        fig.colorbar(image, ax=ax, label="error rate")
        ax.set_xlabel("horizontal frequency fx (cycles/pixel)")
        ax.set_ylabel("vertical frequency fy (cycles/pixel)")
        ax.set_title(f"Fourier heat map, eps = {m['eps']:g} (L2), clean error {m['clean_error']:.3f}", fontsize=9)
    return path


def _radial(m: dict[str, Any], path: Path) -> Path:
    profile = m["radial_profile"]
    with plotting.figure(path, 6.0, 3.6) as (_, ax):
        ax.plot(profile["cycles_per_pixel"], profile["error"], "o-", ms=3, label="mean error in ring")
        ax.axhline(m["clean_error"], color="k", ls=":", label="clean error")
        for edge in (m["bands"]["low_mid_cpp"], m["bands"]["mid_high_cpp"]):
            ax.axvline(edge, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("|f| (cycles/pixel)")
        ax.set_ylabel("error rate")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
        ax.set_title("Fourier heat map: radial profile (dashed: low/mid/high band edges)", fontsize=9)
    return path


def markdown(result: ProbeResult, plots: list[Path]) -> str:
    """The probe's report.md section."""
    m = result.metrics
    peak, bands = m["peak"], m["bands"]
    lines = [
        "## Fourier heat map", "",
        f"{m['n_images']} images, each perturbed by eps = {m['eps']:g} (L2, [0, 1] pixel units) along the "
        f"real Fourier basis image of every frequency of a {m['grid_shape'][0]} × {m['grid_shape'][1]} grid.",
        "",
        "| metric | value |", "|---|---|",
        f"| clean error | {m['clean_error']:.3f} |",
        f"| mean error over the heat map | {m['mean_error']:.3f} |",
        f"| mean error, low band (|f| < {bands['low_mid_cpp']} cpp) | {_fmt(m['band_error']['low'])} |",
        f"| mean error, mid band | {_fmt(m['band_error']['mid'])} |",
        f"| mean error, high band (|f| ≥ {bands['mid_high_cpp']} cpp) | {_fmt(m['band_error']['high'])} |",
        f"| highest error | {peak['error']:.3f} at |f| = {peak['cycles_per_pixel']:.4f} cpp "
        f"({peak['nyquist_fraction']:.3f} Nyquist; fy = {peak['fy']:.4f}, fx = {peak['fx']:.4f}) |",
    ]
    lines += [f"\n![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines)


def summary_rows(result: ProbeResult) -> list[tuple[str, str]]:
    """Terminal summary: clean error, band means and the peak frequency."""
    m = result.metrics
    band = m["band_error"]
    return [
        ("fourier error low/mid/high", f"{_fmt(band['low'])} / {_fmt(band['mid'])} / {_fmt(band['high'])}"),
        ("fourier peak |f| (cpp)", f"{m['peak']['cycles_per_pixel']:.4f} (error {m['peak']['error']:.3f})"),
    ]

