"""Hybrid-image probe (spec §1): which image does the model follow as the mixing frequency moves?

Hybrid(f) = low frequencies (r ≤ f) of image A + the rest of image B, from a different class.
p_low(f) / p_high(f) are the fractions of hybrids classified as A's / B's class; the reversal
frequency f_rev is where D = p_low − p_high first crosses zero upwards (linear interpolation on
the seed-averaged curve, no clamping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral
from robaudit.errors import RobauditError
from robaudit.probes.base import PROBES, Probe, ProbeContext, ProbeResult

# The 2023 paper's grid, in Nyquist fractions (spec §1).
PAPER_GRID = [0, .03, .04, .05, .06, .08, .09, .11, .13, .15, .17, .19, .22, .27, .33, .42, .57, 1.0]
# Hybrids held at once per chunk. Small on the CPU: the FFT and mask products then stay in
# cache, about 5× faster than one large chunk for 32×32 images; large on a GPU.
CHUNK_BYTES = {"cpu": 16 * 2**20, "cuda": 512 * 2**20}


def parse_grid(text: str) -> list[float]:
    """'paper' | 'uniform:N' (N points over [0, 1]) | 'extended' (paper + corners up to √2) |
    comma-separated values — all in Nyquist fractions, returned ascending."""
    if text == "paper":
        return list(PAPER_GRID)
    if text == "extended":
        return PAPER_GRID + [1.1, 1.2, 1.3, 2**0.5]
    if text.startswith("uniform:"):
        count = int(text.split(":", 1)[1])
        return np.linspace(0.0, 1.0, count).tolist()
    try:
        values = sorted(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise RobauditError(
            f"--hybrid-grid {text!r} is not paper, extended, uniform:N or comma-separated numbers"
        ) from None
    if len(values) < 2 or values[0] < 0 or values[-1] > 2**0.5 + 1e-9:
        raise RobauditError("--hybrid-grid needs at least 2 values in [0, 1.414] (Nyquist fractions)")
    return values


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
    """n_images: pairs per seed (≈); grid: mixing frequencies in Nyquist fractions; seeds: S."""

    n_images: int = 1000
    grid: list[float] = field(default_factory=lambda: list(PAPER_GRID))
    seeds: int = 4


@PROBES.register("hybrid")
class HybridProbe(Probe):
    name = "hybrid"
    Settings = HybridSettings
    settings: HybridSettings

    def run(self, ctx: ProbeContext) -> ProbeResult:
        grid_nf = torch.tensor(sorted(self.settings.grid), dtype=torch.float64)
        grid_cpp = grid_nf * spectral.NYQUIST_CPP
        per_seed = [self._run_seed(ctx, seed, grid_cpp) for seed in range(self.settings.seeds)]
        return self._summarise(grid_cpp, per_seed)

    def _run_seed(self, ctx: ProbeContext, seed: int, grid_cpp: Tensor) -> dict[str, np.ndarray]:
        """Counts for one pairing seed: hits_low/hits_high/soft_low/soft_high (K,), and n."""
        pairing = ctx.generator("hybrid", "pairs", seed)
        low_idx, high_idx = hybrid_pairs(ctx.data.labels, self.settings.n_images, pairing)
        c, h, w = ctx.data.info.image_size
        budget = CHUNK_BYTES.get(ctx.device.type, CHUNK_BYTES["cuda"])
        per_pair = 4 * len(grid_cpp) * c * h * w
        chunk = max(budget // per_pair, -(-ctx.batch_size // len(grid_cpp)), 1)  # ≥ one model batch
        totals: dict[str, np.ndarray] = {}
        starts = range(0, len(low_idx), chunk)
        for start in ctx.track(starts, f"hybrid seed {seed}", len(starts)):
            sl = slice(start, start + chunk)
            unit = ctx.cache.get_or_compute(
                f"seed={seed}/start={start}/chunk={chunk}",
                partial(self._count_chunk, ctx, low_idx[sl], high_idx[sl], grid_cpp),
            )
            for key, value in unit.items():
                totals[key] = totals.get(key, 0) + np.asarray(value, dtype=np.float64)
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

    def _summarise(self, grid_cpp: Tensor, per_seed: list[dict[str, np.ndarray]]) -> ProbeResult:
        curves = {
            key: np.stack([s[key] / s["pairs"] for s in per_seed])
            for key in ("hits_low", "hits_high", "soft_low", "soft_high")
        }
        diff = curves["hits_low"] - curves["hits_high"]  # (S, K)
        mean_diff = torch.from_numpy(diff.mean(0))
        seed_revs = [spectral.first_crossing(grid_cpp, torch.from_numpy(d)) for d in diff]
        value = spectral.first_crossing(grid_cpp, mean_diff)
        crossed = [f for f in seed_revs if f is not None]
        reason = None if value is not None else _no_crossing_reason(mean_diff)
        flags = []
        changes = spectral.sign_changes(mean_diff)
        if changes > 1:
            flags.append(f"p_low - p_high changes sign {changes} times; f_rev uses the first upward crossing")
        if len(crossed) < len(seed_revs):
            missing = len(seed_revs) - len(crossed)
            flags.append(f"{missing} of {len(seed_revs)} seeds never cross; mean/std use the rest")

        def stats(scale: float) -> dict[str, Any]:
            return {
                "value": None if value is None else value * scale,
                "mean": float(np.mean(crossed)) * scale if crossed else None,
                "std": float(np.std(crossed)) * scale if crossed else None,
                "per_seed": [None if f is None else f * scale for f in seed_revs],
            }

        metrics = {
            "f_rev": {"cycles_per_pixel": stats(1.0), "nyquist_fraction": stats(1 / spectral.NYQUIST_CPP),
                      "reason": reason, "seeds_crossed": len(crossed)},
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
        }
        arrays = {f"{k}_per_seed": v for k, v in curves.items()} | {"grid_cpp": grid_cpp.numpy()}
        return ProbeResult(self.name, self.settings_json(), metrics, arrays, flags)

    def plot(self, result: ProbeResult, out_dir: Path) -> list[Path]:
        from robaudit.plots import plot_hybrid_curves

        return [plot_hybrid_curves(result.metrics, out_dir / "hybrid_curves.png")]

    def summary_rows(self, result: ProbeResult) -> list[tuple[str, str]]:
        f_rev = result.metrics["f_rev"]
        return [("hybrid f_rev (cpp)", _fmt_mean_std(f_rev["cycles_per_pixel"], f_rev["reason"])),
                ("hybrid f_rev (Nyquist fraction)", _fmt_mean_std(f_rev["nyquist_fraction"], f_rev["reason"]))]

    def markdown(self, result: ProbeResult, plots: list[Path]) -> str:
        m = result.metrics
        f_rev = m["f_rev"]
        lines = [
            "## Hybrid images: reversal frequency f_rev", "",
            f"{m['n_pairs']} hybrid pairs × {m['seeds']} pairing seeds × "
            f"{len(m['grid']['cycles_per_pixel'])} mixing frequencies.",
            "",
            "| unit | f_rev (seed-averaged curve) | mean ± std across seeds |", "|---|---|---|",
        ]
        for unit in ("cycles_per_pixel", "nyquist_fraction"):
            lines.append(f"| {unit} | {_fmt(f_rev[unit]['value'])} | {_fmt_mean_std(f_rev[unit], None)} |")
        if f_rev["reason"]:
            lines += ["", f"**f_rev is null:** {f_rev['reason']}"]
        lines += ["", "| f (Nyquist fraction) | p_low | p_high |", "|---|---|---|"]
        for f, lo, hi in zip(m["grid"]["nyquist_fraction"], m["curves"]["p_low"], m["curves"]["p_high"], strict=True):
            lines.append(f"| {f:.3f} | {lo:.3f} | {hi:.3f} |")
        lines += [f"\n![hybrid curves]({p.name})" for p in plots]
        return "\n".join(lines)


def _no_crossing_reason(diff: Tensor) -> str:
    if bool((diff >= 0).all()):
        return "always low-biased: the model follows the low-frequency image at every grid frequency"
    if bool((diff < 0).all()):
        return "always high-biased: the model follows the high-frequency image at every grid frequency"
    return "p_low - p_high never crosses zero from negative to positive on this grid"


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value:.4f}"


def _fmt_mean_std(stats: dict[str, Any], reason: str | None) -> str:
    if stats["mean"] is None:
        return f"null ({reason})" if reason else "null"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"
