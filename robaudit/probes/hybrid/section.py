"""The hybrid probe's report section (report["probes"]["hybrid"]) as a typed model."""

from __future__ import annotations

from typing import Any

from robaudit.report_model import Section, metric


def _frev(unit: str, what: str, direction: str | None = None, column: str | None = None) -> Any:
    """A frequency metric of f_rev in ``unit`` (≥ 0; null when there is no reversal)."""
    return metric(None, unit=unit, label=f"{what} ({unit.replace('_', ' ')})", ge=0.0,
                  direction=direction, column=column)  # type: ignore[arg-type]


class FrevCpp(Section):
    """f_rev in cycles per pixel: the seed-averaged curve's crossing (``value``, the one f_rev
    every output shows) and its spread over the seeds whose own curve crosses."""

    value: float | None = _frev("cycles_per_pixel", "f_rev", column="f_rev_cpp")
    mean: float | None = _frev("cycles_per_pixel", "f_rev mean over seeds")
    std: float | None = _frev("cycles_per_pixel", "f_rev std over seeds", "lower", column="f_rev_cpp_std")
    per_seed: list[float | None]


class FrevNyquist(Section):
    """f_rev as a fraction of Nyquist (cpp / 0.5)."""

    value: float | None = _frev("nyquist_fraction", "f_rev")
    mean: float | None = _frev("nyquist_fraction", "f_rev mean over seeds")
    std: float | None = _frev("nyquist_fraction", "f_rev std over seeds", "lower")
    per_seed: list[float | None]


class Frev(Section):
    cycles_per_pixel: FrevCpp
    nyquist_fraction: FrevNyquist
    reason: str | None
    seeds_crossed: int = metric(unit="count", label="pairing seeds whose curve crosses", ge=0)


class Grid(Section):
    cycles_per_pixel: list[float]
    nyquist_fraction: list[float]


class Curves(Section):
    """Seed-averaged curves over the grid (K,): fractions of hybrids and mean softmax."""

    p_low: list[float]
    p_high: list[float]
    softmax_low: list[float]
    softmax_high: list[float]
    difference: list[float]


class PerSeedCurves(Section):
    p_low: list[list[float]]
    p_high: list[list[float]]


class HybridMetrics(Section):
    """report["probes"]["hybrid"]: f_rev, the curves it comes from and the clean check."""

    f_rev: Frev
    grid: Grid
    curves: Curves
    per_seed_curves: PerSeedCurves
    n_pairs: int = metric(unit="count", label="hybrid pairs per seed", ge=0)
    seeds: int = metric(unit="count", label="pairing seeds", ge=1)
    sign_changes: int = metric(unit="count", label="sign changes of p_low − p_high", ge=0)
    clean_accuracy: float = metric(unit="fraction", label="clean accuracy on the images used",
                                   direction="higher", ge=0.0, le=1.0)
    n_clean_images: int = metric(unit="count", label="images of the clean check", ge=0)
    chance_accuracy: float = metric(unit="fraction", label="chance accuracy", ge=0.0, le=1.0)
    majority_share: float = metric(unit="fraction", label="share of the most frequent clean prediction",
                                   ge=0.0, le=1.0)
    verdict_refused: bool = metric(unit="bool", label="no f_rev: model at chance or constant",
                                   direction="lower")
