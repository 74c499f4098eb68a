"""Hybrid-image probe: which image does the model follow as the mixing frequency moves?

Hybrid(f) = low frequencies (r ≤ f) of image A + the rest of image B, from a different class.
p_low(f) / p_high(f) are the fractions of hybrids classified as A's / B's class; the reversal
frequency f_rev is where D = p_low − p_high first crosses zero upwards (linear interpolation on
the seed-averaged curve, no clamping). Definitions and grids: docs/metrics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral
from robaudit.config import setting
from robaudit.errors import RobauditError
from robaudit.probes.base import PROBES, Probe, ProbeContext, ProbeResult, sum_units
from robaudit.probes.clean import CleanCheck, check_clean
from robaudit.probes.hybrid import render
from robaudit.probes.hybrid.section import HybridMetrics

NAME = "hybrid"
# The 2023 paper's grid, in Nyquist fractions (docs/metrics.md).
PAPER_GRID = [0, .03, .04, .05, .06, .08, .09, .11, .13, .15, .17, .19, .22, .27, .33, .42, .57, 1.0]
MAX_GRID = math.sqrt(2)  # the corner of the spectrum, in Nyquist fractions
COUNTS = ("hits_low", "hits_high", "soft_low", "soft_high")
WHAT = "--hybrid-grid (hybrid.grid)"  # how grid errors name the setting


def parse_grid(text: Any) -> list[float]:
    """'paper' | 'uniform:N' (N ≥ 2 points over [0, 1]) | 'extended' (paper + corners up to √2) |
    comma-separated values | a list — all in Nyquist fractions, returned ascending."""
    if isinstance(text, list | tuple):
        return _checked_grid(text, repr(list(text)))
    text = str(text).strip()
    if text == "paper":
        return list(PAPER_GRID)
    if text == "extended":
        return PAPER_GRID + [1.1, 1.2, 1.3, MAX_GRID]
    if text.startswith("uniform:"):
        count = text.split(":", 1)[1].strip()
        if not count.isdigit() or int(count) < 2:
            raise RobauditError(f"{WHAT} {text!r}: uniform:N needs a whole number N ≥ 2 of points")
        return np.linspace(0.0, 1.0, int(count)).tolist()
    return _checked_grid(text.split(","), repr(text))


def _checked_grid(values: Any, shown: str) -> list[float]:
    try:
        grid = sorted(float(v) for v in values if str(v).strip())
    except (TypeError, ValueError):
        raise RobauditError(
            f"{WHAT} {shown} is not paper, extended, uniform:N or comma-separated numbers") from None
    if len(grid) < 2 or not all(math.isfinite(v) for v in grid) or grid[0] < 0 or grid[-1] > MAX_GRID + 1e-9:
        raise RobauditError(f"{WHAT} {shown} needs at least 2 values in [0, 1.414] (Nyquist fractions)")
    return grid


def derangement(n: int, generator: torch.Generator) -> Tensor:
    """A uniformly random permutation of range(n) with no fixed point (n ≥ 2), by rejection."""
    while True:
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == torch.arange(n)).any()):
            return perm


def hybrid_pairs(labels: Tensor, n_images: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Seeded (low, high) index pairs, every image used once as low and once as high.

    Takes k = min(n_images // C, smallest class size) images per class (C classes; when
    n_images < C, k = 1 on n_images random classes), a seeded derangement σ of the classes, and
    pairs class c's images with a seeded permutation of class σ(c)'s. Returns (low, high), (n,).
    """
    classes, counts = torch.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise RobauditError("the hybrid probe needs images from at least 2 classes")
    per_class = min(max(1, n_images // len(classes)), int(counts.min()))
    if n_images < len(classes):
        classes = classes[torch.randperm(len(classes), generator=generator)[: max(2, n_images)]]
    chosen = []
    for c in classes.tolist():
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    table = torch.stack(chosen)  # (classes, per_class)
    sigma = derangement(len(classes), generator)
    within = torch.stack([torch.randperm(per_class, generator=generator) for _ in classes])
    partners = table[sigma][torch.arange(len(classes))[:, None], within]
    return table.flatten(), partners.flatten()


@dataclass
class HybridSettings:
    """How many pairs, on which grid of mixing frequencies, with how many pairing seeds."""

    n_images: int = setting(1000, help="hybrid pairs per pairing seed (about; balanced over classes)",
                            flag="n-images", minimum=1)
    grid: list[float] = setting(factory=lambda: list(PAPER_GRID), parse=parse_grid, flag="hybrid-grid",
                                minimum=0.0, maximum=MAX_GRID, metavar="GRID",
                                help="paper | extended | uniform:N | comma-separated Nyquist fractions")
    seeds: int = setting(4, help="pairing seeds S (f_rev mean ± std across them)", flag="hybrid-seeds",
                         minimum=1)


@PROBES.register(NAME)
class HybridProbe(Probe):
    name = NAME
    Settings = HybridSettings
    Metrics = HybridMetrics
    renderer: ClassVar[Any] = render
    settings: HybridSettings

    def run(self, ctx: ProbeContext) -> ProbeResult:
        grid_nf = torch.tensor(parse_grid(list(self.settings.grid)), dtype=torch.float64)
        grid_cpp = grid_nf * spectral.NYQUIST_CPP
        pairs = [hybrid_pairs(ctx.data.labels, self.settings.n_images, ctx.generator("hybrid", "pairs", seed))
                 for seed in range(self.settings.seeds)]
        per_seed = [self._run_seed(ctx, seed, low, high, grid_cpp) for seed, (low, high) in enumerate(pairs)]
        clean = self._clean(ctx, pairs)
        return self._summarise(grid_cpp, per_seed, pairs, clean)

    def _run_seed(self, ctx: ProbeContext, seed: int, low_idx: Tensor, high_idx: Tensor,
                  grid_cpp: Tensor) -> dict[str, np.ndarray]:
        """Counts for one pairing seed: hits_low/hits_high/soft_low/soft_high (K,), and pairs."""
        c, h, w = ctx.data.info.image_size
        chunk = ctx.chunk_images(len(grid_cpp), 4 * c * h * w)
        starts = range(0, len(low_idx), chunk)
        units = (ctx.cache.get_or_compute(
            f"seed={seed}/start={start}/chunk={chunk}",
            partial(self._count_chunk, ctx, low_idx[start : start + chunk], high_idx[start : start + chunk], grid_cpp),
        ) for start in ctx.track(starts, f"hybrid seed {seed}", len(starts)))
        totals = sum_units(units, COUNTS)
        totals["pairs"] = np.asarray(len(low_idx))
        return totals

    def _count_chunk(self, ctx: ProbeContext, low_idx: Tensor, high_idx: Tensor, grid_cpp: Tensor) -> dict[str, Any]:
        x_low, y_low = ctx.load(low_idx)
        x_high, y_high = ctx.load(high_idx)
        hybrids = spectral.hybrid_images(x_low, x_high, grid_cpp.float().to(ctx.device))
        k, n = hybrids.shape[:2]
        probs = ctx.predict_logits(hybrids.flatten(0, 1)).softmax(-1).view(k, n, -1)
        top = probs.argmax(-1)
        rows = torch.arange(n, device=probs.device)
        return {
            "hits_low": (top == y_low).sum(1).cpu().numpy(),
            "hits_high": (top == y_high).sum(1).cpu().numpy(),
            "soft_low": probs[:, rows, y_low].sum(1).double().cpu().numpy(),
            "soft_high": probs[:, rows, y_high].sum(1).double().cpu().numpy(),
        }

    def _clean(self, ctx: ProbeContext, pairs: list[tuple[Tensor, Tensor]]) -> CleanCheck:
        """Clean accuracy on every image the pairs use (each is used once as low per seed)."""
        used = torch.unique(torch.cat([low for low, _ in pairs]))
        unit = ctx.cache.get_or_compute(f"clean/images={len(used)}", partial(self._predict_clean, ctx, used))
        predicted, labels = np.asarray(unit["predicted"]), ctx.data.labels[used].numpy()
        share = float(np.bincount(predicted).max() / len(predicted))
        chance = 1.0 / len(np.unique(labels))  # classes are balanced in the pairs
        return check_clean(int((predicted == labels).sum()), len(used), chance, share)

    def _predict_clean(self, ctx: ProbeContext, indices: Tensor) -> dict[str, Any]:
        parts = [ctx.predict_logits(ctx.load(chunk)[0]).argmax(-1).cpu() for chunk in indices.split(ctx.batch_size)]
        return {"predicted": torch.cat(parts).numpy().astype(np.int64)}

    def _summarise(self, grid_cpp: Tensor, per_seed: list[dict[str, np.ndarray]],
                   pairs: list[tuple[Tensor, Tensor]], clean: CleanCheck) -> ProbeResult:
        curves = {key: np.stack([s[key] / s["pairs"] for s in per_seed]) for key in COUNTS}
        diff = curves["hits_low"] - curves["hits_high"]  # (S, K)
        mean_diff = torch.from_numpy(diff.mean(0))
        changes = spectral.sign_changes(mean_diff)
        f_rev, flags = reversal(grid_cpp, diff, clean.refusal)
        if changes > 1 and clean.refusal is None:
            flags.insert(0, f"p_low - p_high changes sign {changes} times; f_rev uses the first upward crossing")
        metrics = {
            "f_rev": f_rev,
            "grid": {"cycles_per_pixel": grid_cpp.tolist(),
                     "nyquist_fraction": (grid_cpp / spectral.NYQUIST_CPP).tolist()},
            "curves": {
                "p_low": curves["hits_low"].mean(0).tolist(), "p_high": curves["hits_high"].mean(0).tolist(),
                "softmax_low": curves["soft_low"].mean(0).tolist(),
                "softmax_high": curves["soft_high"].mean(0).tolist(),
                "difference": mean_diff.tolist(),
            },
            "per_seed_curves": {"p_low": curves["hits_low"].tolist(), "p_high": curves["hits_high"].tolist()},
            "n_pairs": int(per_seed[0]["pairs"]), "seeds": len(per_seed), "sign_changes": changes,
            "clean_accuracy": clean.accuracy, "n_clean_images": clean.n_images,
            "chance_accuracy": clean.chance, "majority_share": clean.majority_share,
            "verdict_refused": clean.refusal is not None,
        }
        arrays = {f"{k}_per_seed": v for k, v in curves.items()} | {"grid_cpp": grid_cpp.numpy()}
        arrays |= {"low_index": torch.stack([low for low, _ in pairs]).numpy().astype(np.int64),
                   "high_index": torch.stack([high for _, high in pairs]).numpy().astype(np.int64)}
        return ProbeResult(self.name, self.settings_json(), metrics, arrays, flags)



def reversal(grid_cpp: Tensor, diff: np.ndarray, refusal: str | None) -> tuple[dict[str, Any], list[str]]:
    """f_rev in both units from per-seed differences D (S, K) on grid_cpp (K,), and notes.

    ``value`` is the crossing of the seed-averaged curve (the one f_rev every output shows);
    mean ± std are over the seeds whose own curve crosses. A refused verdict gives nulls."""
    mean_diff = torch.from_numpy(diff.mean(0))
    seed_revs = [spectral.first_crossing(grid_cpp, torch.from_numpy(d)) for d in diff]
    value = spectral.first_crossing(grid_cpp, mean_diff)
    crossed = [f for f in seed_revs if f is not None]
    reason = refusal or (None if value is not None else _no_crossing_reason(mean_diff))
    flags = [f"no f_rev: {refusal}"] if refusal else []
    if refusal:
        value, seed_revs, crossed = None, [None] * len(seed_revs), []
    elif len(crossed) < len(seed_revs):
        flags.append(f"{len(seed_revs) - len(crossed)} of {len(seed_revs)} seeds never cross; mean/std use the rest")

    def stats(scale: float) -> dict[str, Any]:
        return {
            "value": None if value is None else value * scale,
            "mean": float(np.mean(crossed)) * scale if crossed else None,
            "std": float(np.std(crossed)) * scale if crossed else None,
            "per_seed": [None if f is None else f * scale for f in seed_revs],
        }

    return {"cycles_per_pixel": stats(1.0), "nyquist_fraction": stats(1 / spectral.NYQUIST_CPP),
            "reason": reason, "seeds_crossed": len(crossed)}, flags


def _no_crossing_reason(diff: Tensor) -> str:
    if bool((diff >= 0).all()):
        return "always low-biased: the model follows the low-frequency image at every grid frequency"
    if bool((diff < 0).all()):
        return "always high-biased: the model follows the high-frequency image at every grid frequency"
    return "p_low - p_high never crosses zero from negative to positive on this grid"
