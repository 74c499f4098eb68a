"""The leaderboard's figures: scatter plots across models with Spearman's ρ and its bootstrap
interval, and overlays of every model's hybrid curve, cumulative adversarial spectrum and robust
accuracy against ε. PNG files drawn on matplotlib's Agg canvas.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from robaudit.atomic import atomic_write_with
from robaudit.compare import derived
from robaudit.compare.load import ModelEntry
from robaudit.compare.stats import Correlation, correlate

MODEL_GROUP = "model"  # models that are not robaudit reference models
MARKERS = ("o", "v", "s", "^", "D", "P", "X", "*", "h")  # one per group, in registration order
LABEL_LIMIT = 24  # name the points of plots with at most this many models


@contextmanager
def figure(path: Path, width: float, height: float) -> Iterator[tuple[Figure, Axes]]:
    """One-axes figure saved as PNG to ``path`` when the block ends (drawn without pyplot, so no
    global backend is touched). Same call as ``robaudit.plotting.figure``, which replaces it there."""
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    yield fig, ax
    atomic_write_with(path, lambda handle: fig.savefig(handle, format="png", bbox_inches="tight", pad_inches=0.08))
    fig.clear()


@dataclass
class Series:
    """Per-model values of one column (n,), NaN where missing, and the model names and groups."""

    values: np.ndarray
    label: str


def group_of(kind: object) -> str:
    """The scatter group of a model whose report names reference kind ``kind`` (report["model"]
    ["extra"]["kind"]): the kind's ``plot_group``; other models are MODEL_GROUP."""
    from robaudit.references.kinds import REFERENCE_KINDS

    return REFERENCE_KINDS.get(str(kind)).plot_group if kind and str(kind) in REFERENCE_KINDS else MODEL_GROUP


def marker_of(group: str) -> str:
    """A group's marker: fixed by the order the reference kinds are registered in."""
    from robaudit.references.kinds import REFERENCE_KINDS

    order = list(dict.fromkeys([MODEL_GROUP, *(REFERENCE_KINDS.get(k).plot_group for k in REFERENCE_KINDS.names())]))
    return MARKERS[order.index(group) % len(MARKERS)] if group in order else MARKERS[0]


def scatter(path: Path, x: Series, ys: list[Series], names: list[str], groups: list[str], seed: int,
            ylabel: str) -> list[Correlation]:
    """Each series of ys against x, one marker per reference group, each series' ρ and interval in
    the legend (tagged by the series label when there are several). Returns the correlations."""
    results = []
    colours = ["tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple"]
    with figure(path, 5.6, 4.0) as (fig, ax):
        for s, series in enumerate(ys):
            tag = f"{series.label}: " if len(ys) > 1 else ""
            corr = correlate(x.values, series.values, seed, x.label, series.label)
            results.append(corr)
            for group in sorted(set(groups)):
                mask = np.array([g == group for g in groups]) & np.isfinite(x.values) & np.isfinite(series.values)
                if mask.any():
                    ax.scatter(x.values[mask], series.values[mask], marker=marker_of(group), s=30,
                               color=colours[s % len(colours)], edgecolor="black", linewidth=0.4,
                               label=f"{tag}{group}")
            ax.plot([], [], " ", label=f"{tag}{corr.label()}")
        first = ys[0].values
        finite = np.isfinite(x.values) & np.isfinite(first)
        if finite.sum() <= LABEL_LIMIT:
            for i in np.flatnonzero(finite):
                ax.annotate(names[i], (x.values[i], first[i]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(x.label)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6, loc="best")
        ax.grid(alpha=0.3)
    return results


def hybrid_overlay(path: Path, entries: list[ModelEntry]) -> bool:
    """p_low − p_high against mixing frequency (cpp) for every model with a hybrid section;
    False (nothing written) when none has one."""
    curves = [(e.name, h["grid"]["cycles_per_pixel"], h["curves"]["difference"])
              for e in entries if (h := e.probes.get("hybrid"))]
    if not curves:
        return False
    with figure(path, 5.6, 3.8) as (fig, ax):
        for name, grid, difference in curves:
            ax.plot(grid, difference, marker=".", label=name, linewidth=1)
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_xlabel("mixing frequency (cycles per pixel)")
        ax.set_ylabel("p_low − p_high")
        ax.set_title("hybrid-image curves (zero crossing: f_rev)")
        _legend(ax, len(curves))
    return True


def spectrum_overlay(path: Path, entries: list[ModelEntry]) -> bool:
    """Cumulative radial power of the minimal perturbations (from adversarial_spectrum.npz);
    False (nothing written) when no model has them."""
    curves = [(e.name, a["radii_cpp"], a["cumulative"])
              for e in entries if "radii_cpp" in (a := e.arrays("adversarial_spectrum")) and "cumulative" in a]
    if not curves:
        return False
    with figure(path, 5.6, 3.8) as (fig, ax):
        for name, radii, cumulative in curves:
            ax.plot(radii, cumulative, label=name, linewidth=1)
        ax.axhline(0.5, color="grey", linewidth=0.6, linestyle="--")
        ax.set_xlabel("radial frequency (cycles per pixel)")
        ax.set_ylabel("cumulative fraction of power")
        ax.set_title("adversarial perturbation spectra (crossing 0.5: f_0.5)")
        _legend(ax, len(curves))
    return True


def robustness_overlay(path: Path, entries: list[ModelEntry]) -> bool:
    """Robust accuracy against ε from each model's minimal sizes (one panel norm: the first seen)."""
    curves = []
    for entry in entries:
        adv, sizes = entry.probes.get("adversarial_spectrum"), entry.arrays("adversarial_spectrum").get("size")
        if adv and sizes is not None and adv.get("n_examined"):
            curves.append((entry.name, adv["norm"], sizes, adv["n_examined"], adv["n_skipped"]))
    if not curves:
        return False
    norm = curves[0][1]
    finite = np.concatenate([c[2][np.isfinite(c[2])] for c in curves if c[1] == norm] + [np.zeros(1)])
    epsilons = np.linspace(0.0, max(float(finite.max()) * 1.05, 1e-6), 200)
    with figure(path, 5.6, 3.8) as (fig, ax):
        for name, curve_norm, sizes, examined, skipped in curves:
            if curve_norm == norm:
                ax.plot(epsilons, derived.robust_curve(sizes, epsilons, examined, skipped), label=name, linewidth=1)
        for budget in derived.BUDGETS:
            if budget.norm == norm and budget.epsilon <= epsilons[-1]:
                ax.axvline(budget.epsilon, color="grey", linewidth=0.6, linestyle=":")
        ax.set_xlabel(f"ε ({'L∞' if norm == 'linf' else 'L2'} norm, [0, 1] pixel scale)")
        ax.set_ylabel("robust accuracy")
        ax.set_ylim(0, 1.02)
        ax.set_title("robust accuracy against ε (from minimal perturbation sizes)")
        _legend(ax, len(curves))
    return True


def _legend(ax: Axes, count: int) -> None:
    if count <= LABEL_LIMIT:
        ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)
