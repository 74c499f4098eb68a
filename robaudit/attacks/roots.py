"""Batched one-dimensional root finding: one monotone equation per row, all rows at once.

Written by hand because torch has no batched scalar root finder: safeguarded Newton with
bisection fallback, rows leaving the work as they are solved, and an exact solver for sums of
clamped linear pieces (sorting their breakpoints: a fixed, small number of tensor operations,
which on a GPU matters more than their arithmetic). Used by the Brendel–Bethge trust-region
subproblem (:mod:`robaudit.attacks.bb_subproblem`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

TINY = 1e-30
"""Guards divisions (representable in float32 as in float64)."""
ROOT_ITERS = 100
"""Cap on safeguarded-Newton iterations (piecewise-linear roots usually take 2–6)."""


class Rows:
    """Row tensors (N, ...) seen through the rows still being solved: ``take(rows)`` gathers them
    once per working set (``rows`` (n,) indices, or None for all rows), not once per iteration."""

    def __init__(self, *tensors: Tensor) -> None:
        self.full = tensors
        self._rows: Tensor | None = None
        self._taken = tensors

    def take(self, rows: Tensor | None) -> tuple[Tensor, ...]:
        if rows is not self._rows:
            self._rows = rows
            self._taken = self.full if rows is None else tuple(t[rows] for t in self.full)
        return self._taken


def drop_solved(done: Tensor, rows: Tensor | None, out: Tensor, result: Tensor,
                state: tuple[Tensor, ...], share: float = 0.5) -> tuple[Tensor | None, Tensor, tuple[Tensor, ...]]:
    """Once at least ``share`` of the working rows are ``done`` (n,) bool (and at least one):
    store their ``result`` (n, ...) in ``out`` (N, ...) and keep only the unsolved rows of
    ``state`` (each (n, ...)). ``rows``: the working rows' indices into N (None: all). Returns
    (rows, out, state), as given when fewer are done. The share weighs the copies a drop makes
    against the work a solved row would still cost each iteration."""
    solved = int(done.sum())
    if solved == 0 or solved < share * len(done):
        return rows, out, state
    if rows is None:
        out = result.clone()
    else:
        out[rows] = result
    keep = torch.nonzero(~done).flatten()
    return (keep if rows is None else rows[keep]), out, tuple(t[keep] for t in state)


def gather_solved(rows: Tensor | None, out: Tensor, result: Tensor) -> Tensor:
    """All N rows' results: ``out`` with the working rows' ``result`` stored (``result`` if no
    row was dropped)."""
    if rows is None:
        return result
    out[rows] = result
    return out


RowFn = Callable[[Tensor, "Tensor | None"], tuple[Tensor, Tensor]]

WIDE = 16.0
"""A bracket whose ends differ in magnitude by more than this factor (or straddle zero) is split
at the geometric middle of their magnitudes rather than halved."""
DECADES = 2.0**-40
"""Straddling zero, the smaller end counts as this share of the larger (about 12 decades)."""


def split(lo: Tensor, hi: Tensor) -> Tensor:
    """The bisection point of each bracket [lo, hi] (n,): the midpoint where both ends have about
    the same size, else sign · √(|small end| · |large end|), on the larger end's side of zero.
    Halving log |v| finds a root near zero in a bracket of ±10⁶ in a dozen steps, where halving
    v itself takes forty (Lagrange multipliers of clamped sums span that range)."""
    small, big = torch.minimum(lo.abs(), hi.abs()), torch.maximum(lo.abs(), hi.abs())
    same_side = lo * hi > 0
    small = torch.where(same_side, small, big * DECADES)
    side = torch.where(hi.abs() >= lo.abs(), hi.sign(), lo.sign())
    geometric = side * (small.clamp_min(TINY) * big).sqrt()
    return torch.where(big > WIDE * small, geometric, (lo + hi) / 2).clamp(lo, hi)


def _fallback(inside: Tensor, newton: Tensor, above: Tensor, below: Tensor, lo: Tensor, hi: Tensor,
              ends: tuple[Tensor, Tensor], tried: tuple[Tensor, Tensor]) -> Tensor:
    """The next point (n,) where Newton's step left the bracket [lo, hi]: :func:`split`, or the end
    of the range (``ends`` = (floor, ceiling)) not yet ``tried`` towards which the bisection goes
    (bisection only reaches it in the limit). Its ~25 operations are skipped while every Newton
    step stays inside, which is most iterations (the per-operation cost dominates small rows)."""
    step = torch.where(inside, newton, split(lo, hi))
    (floor, ceiling), (tried_floor, tried_ceiling) = ends, tried
    step = torch.where(above & (lo == floor) & ~inside & ~tried_floor, floor, step)
    return torch.where(below & (hi == ceiling) & ~inside & ~tried_ceiling, ceiling, step)


def monotone_root(fn: RowFn, target: Tensor, tol: Tensor, lo: Tensor, hi: Tensor, start: Tensor) -> Tensor:
    """Per row, v in [lo, hi] with |fn(v) − target| ≤ tol for a nondecreasing ``fn(v, rows)``
    returning (value (n,), slope (n,)) for the rows ``rows`` (None: all) at v (n,): Newton steps,
    bisection (:func:`split`) whenever Newton leaves the bracket. Where the root lies outside
    [lo, hi], the nearer end; where rounding keeps |fn − target| above ``tol``, the point where
    the bracket has shrunk to the dtype's resolution. Rows leave the work once solved, so the
    work per iteration follows the rows left rather than the batch's slowest row."""
    resolution = 8 * torch.finfo(start.dtype).eps  # a bracket this tight cannot shrink further
    v = start.clamp(lo, hi)
    out = v  # replaced by drop_solved before any row is stored
    floor, ceiling = lo, hi
    tried_floor = tried_ceiling = torch.zeros_like(v, dtype=torch.bool)
    rows: Tensor | None = None
    for _ in range(ROOT_ITERS):
        value, slope = fn(v, rows)
        tried_floor, tried_ceiling = tried_floor | (v <= floor), tried_ceiling | (v >= ceiling)
        done = ((value - target).abs() <= tol) | ((value > target) & (v <= floor)) | (
            (value < target) & (v >= ceiling)) | (hi - lo <= resolution * torch.maximum(lo.abs(), hi.abs()))
        if bool(done.all()):
            break
        hi = torch.where(value > target, v, hi)
        lo = torch.where(value < target, v, lo)
        newton = v + (target - value) / slope.clamp_min(TINY)
        inside = (slope > 0) & (newton > lo) & (newton < hi)
        v = torch.where(done, v, newton if bool(inside.all()) else _fallback(
            inside, newton, value > target, value < target, lo, hi, (floor, ceiling), (tried_floor, tried_ceiling)))
        rows, out, (v, lo, hi, floor, ceiling, target, tol, tried_floor, tried_ceiling) = drop_solved(
            done, rows, out, v, (v, lo, hi, floor, ceiling, target, tol, tried_floor, tried_ceiling))
    return gather_solved(rows, out, v)


def clamped_sum_root(start: Tensor, end: Tensor, weight: Tensor, target: Tensor) -> Tensor:
    """Per row, the smallest v with g(v) = Σ_i weight_i · (clamp(v, start_i, end_i) − start_i) = target,
    exactly: g is piecewise linear and nondecreasing, so sorting the 2M breakpoints and summing the
    slopes between them gives g at every breakpoint, and the root lies on the first segment that
    reaches the target. start, end, weight: (N, M) with start ≤ end, weight ≥ 0; target (N,).
    Where target ≤ 0 the smallest breakpoint, where it exceeds g's maximum the largest."""
    points, order = torch.cat([start, end], 1).sort(1)
    slope = torch.cat([weight, -weight], 1).gather(1, order).cumsum(1)  # slope right of each point
    rise = (slope[:, :-1] * points.diff(dim=1)).clamp_min(0)
    gain = torch.cat([torch.zeros_like(target)[:, None], rise.cumsum(1)], 1)  # g at each point
    k = (gain < target[:, None]).sum(1).clamp(1, points.shape[1] - 1)  # the root's segment: (k − 1, k)
    left = points.gather(1, (k - 1)[:, None])[:, 0]
    below = gain.gather(1, (k - 1)[:, None])[:, 0]
    run = (target - below) / slope.gather(1, (k - 1)[:, None])[:, 0].clamp_min(TINY)
    right = points.gather(1, k[:, None])[:, 0]
    return torch.where(target <= 0, points[:, 0], (left + run.clamp_min(0)).clamp(max=right))
