"""Rank correlation across models: Spearman's ρ and a paired percentile-bootstrap 95 % interval.

Hand-written with numpy because scipy is not a runtime dependency of robaudit; the tests check
both against ``scipy.stats.spearmanr`` and ``scipy.stats.bootstrap(..., method="percentile")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robaudit.seeding import seeded_generator

N_RESAMPLES = 2000
CONFIDENCE = 0.95


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` (n,), ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    ends = np.r_[first[1:], len(values)]
    mean_rank = (first + ends + 1) / 2.0  # mean of ranks first+1 .. ends
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's ρ of paired samples x, y (n,): Pearson's r of their average ranks.
    None when n < 3 or either sample is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3:
        return None
    rx, ry = average_ranks(x) - (len(x) + 1) / 2, average_ranks(y) - (len(y) + 1) / 2
    denominator = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
    if denominator == 0:
        return None
    return float(np.clip(np.sum(rx * ry) / denominator, -1.0, 1.0))


def bootstrap_interval(x: np.ndarray, y: np.ndarray, draws: np.ndarray,
                       confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Percentile interval of ρ over paired resamples: draws (B, n) are model indices per resample.
    Resamples whose ρ is undefined (a constant resample) are left out."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rhos = [spearman(x[row], y[row]) for row in draws]
    kept = np.array([r for r in rhos if r is not None], dtype=np.float64)
    if len(kept) == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(kept, tail)), float(np.percentile(kept, 100 - tail))


@dataclass(frozen=True)
class Correlation:
    """ρ over n models with its bootstrap interval (None where undefined)."""

    rho: float | None
    low: float | None
    high: float | None
    n: int

    def label(self) -> str:
        if self.rho is None:
            return f"Spearman ρ undefined (n={self.n})"
        interval = "" if self.low is None else f" [{self.low:.2f}, {self.high:.2f}]"
        return f"Spearman ρ = {self.rho:.2f}{interval}, n={self.n}"


def correlate(x: np.ndarray, y: np.ndarray, seed: int, *tags: object,
              n_resamples: int = N_RESAMPLES) -> Correlation:
    """ρ of the finite pairs of x, y with an interval from seeded resamples of those pairs."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    rho = spearman(x, y)
    if rho is None:
        return Correlation(None, None, None, len(x))
    import torch

    generator = seeded_generator(seed, "compare", "bootstrap", *tags)
    draws = torch.randint(0, len(x), (n_resamples, len(x)), generator=generator).numpy()
    low, high = bootstrap_interval(x, y, draws)
    return Correlation(rho, low, high, len(x))
