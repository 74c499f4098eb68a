"""Summaries of a minimal-perturbation search: size statistics and f_0.5 with a bootstrap CI.

f_0.5 (docs/metrics.md): the radial frequency where the cumulative power profile R(a) of the mean
perturbation power spectrum crosses 0.5, by linear interpolation between the grid's distinct
radial values. The interval resamples images with replacement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral


def size_stats(sizes: np.ndarray, norm: str) -> dict[str, Any]:
    """Median, mean and sample std (ddof=1) of the verified sizes (finite entries of ``sizes``);
    for L∞ also in units of 1/255. None where no image succeeded."""
    ok = sizes[np.isfinite(sizes)]

    def stats(scale: float) -> dict[str, float | None]:
        if len(ok) == 0:
            return {"median": None, "mean": None, "std": None}
        std = float(np.std(ok, ddof=1)) if len(ok) > 1 else 0.0
        return {"median": float(np.median(ok)) * scale, "mean": float(np.mean(ok)) * scale,
                "std": std * scale}

    return {"size": stats(1.0), "size_255": stats(255.0) if norm == "linf" else None}


def bootstrap_f05(
    sums: Tensor, radii: Tensor, n_boot: int, generator: torch.Generator
) -> tuple[float | None, float | None]:
    """95 % percentile interval of f_0.5 over images. sums: (n, M) per-image power per radial
    value (from :func:`spectral.radial_sums`), radii (M,) without the prepended 0."""
    n = sums.shape[0]
    if n < 2 or n_boot < 1:
        return None, None
    draws = torch.randint(0, n, (n_boot, n), generator=generator)
    weights = torch.zeros(n_boot, n, dtype=torch.float64).scatter_add_(
        1, draws, torch.ones(n_boot, n, dtype=torch.float64)
    )
    per_radius = weights @ sums.double().cpu()
    total = per_radius.sum(dim=1, keepdim=True).clamp(min=1e-300)
    zero = torch.zeros(n_boot, 1, dtype=torch.float64)
    cumulative = torch.cat([zero, per_radius.cumsum(1) / total], 1)
    grid = torch.cat([torch.zeros(1, dtype=torch.float64), radii.double().cpu()])
    crossings = spectral.half_crossings(grid, cumulative)
    f = crossings[torch.isfinite(crossings)].numpy()
    if len(f) == 0:
        return None, None
    return float(np.quantile(f, 0.025)), float(np.quantile(f, 0.975))


def f05_metrics(
    power_mean: Tensor, sums: Tensor, n_boot: int, generator: torch.Generator
) -> tuple[dict[str, Any], Tensor, Tensor]:
    """f_0.5 in both units with its bootstrap interval, and the profile (radii, R) it came from.

    power_mean: (H, W) mean power spectrum (unshifted, DC 0); sums: (n, M) per-image radial sums.
    """
    radii, cumulative = spectral.cumulative_profile(power_mean)
    value = spectral.first_crossing(radii, cumulative, 0.5) if float(power_mean.sum()) > 0 else None
    h, w = power_mean.shape
    sum_radii, _ = spectral.radial_sums(torch.zeros(1, h, w))
    low, high = bootstrap_f05(sums, sum_radii, n_boot, generator)
    units: dict[str, Any] = {}
    for name, cpp in (("value", value), ("ci_low", low), ("ci_high", high)):
        for unit, v in spectral.both_units(cpp).items():
            units.setdefault(unit, {})[name] = v
    return units, radii, cumulative
