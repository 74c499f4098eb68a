"""The L2 distance step of Brendel–Bethge's trust-region subproblem, for a whole batch at once.

    min_δ ‖x0 − x − δ‖₂   s.t.   bᵀδ = c,   lo_box ≤ x + δ ≤ hi_box,   ‖δ‖₂ ≤ r

by foolbox 3.3.4's ``L2Optimizer`` active-set method, every row of (N, D) tensors at once (foolbox
runs it per image in numba; see :mod:`robaudit.attacks.bb_subproblem` for the L∞ step and the case
analysis around both).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _free_step(b: Tensor, dx: Tensor, free: Tensor, ck: Tensor, rk: Tensor) -> Tensor:
    """One active-set round's step (n, D) over the ``free`` coordinates: the point of the
    hyperplane bᵀδ = ck nearest to dx, pulled onto the sphere of radius rk where it lies outside,
    or the hyperplane's smallest point where even that is out of reach (foolbox's
    ``optimize_distance_s_t_boundary_and_trustregion``)."""
    bf, dxf = b * free, dx * free
    bsq = (bf * bf).sum(1)
    bdot_dx = (bf * dxf).sum(1) / (1e-8 + bsq)
    ck_bnorm = ck / (1e-8 + bsq)
    r2 = rk.square()
    cand = dxf + bf * (ck_bnorm - bdot_dx)[:, None]
    boundary_norm = ck_bnorm.square() * bsq
    descent_norm = (dxf - bf * bdot_dx[:, None]).square().sum(1)
    correct = (r2 - boundary_norm).clamp_min(0).sqrt() / (descent_norm.sqrt() + 1e-8)
    corrected = correct[:, None] * dxf + bf * (ck_bnorm - correct * bdot_dx)[:, None]
    return torch.where((boundary_norm > r2)[:, None], bf * ck_bnorm[:, None],
                       torch.where((cand.square().sum(1) > r2)[:, None], corrected, cand))


def _at(t: Tensor, rows: Tensor | None) -> Tensor:
    """The rows ``rows`` of t (None: t itself, not a gathered copy)."""
    return t if rows is None else t[rows]


def _put(t: Tensor, rows: Tensor | None, value: Tensor) -> Tensor:
    """t with its rows ``rows`` set to value (None: value itself)."""
    if rows is None:
        return value
    t[rows] = value
    return t


def l2_distance_step(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor,
                     box: tuple[float, float]) -> Tensor:
    """min ‖x0 − x − δ‖₂ s.t. bᵀδ = c, box, ‖δ‖₂ ≤ r: foolbox's ``L2Optimizer`` active-set
    solver (optimal step over the coordinates not at a bound; clamp those that leave the box and
    repeat, at most 20 rounds), for every row at once. Each round works only on the rows still
    clamping coordinates (after the first, a few of 48 on the embedded CNN): the same numbers as
    a round over all rows, in 0.6 of the solver's time."""
    n = len(x)
    dx = x0 - x
    masked = torch.zeros_like(x, dtype=torch.bool)
    delta = torch.zeros_like(x)
    clamp_c, clamp_norm = torch.zeros(n, dtype=x.dtype, device=x.device), torch.zeros_like(r)
    ck, rk = c.clone(), r.clone()
    rows: Tensor | None = None  # the rows still running; None: all of them
    for _ in range(20):
        free, xr, br = ~_at(masked, rows), _at(x, rows), _at(b, rows)
        d = torch.where(free, _free_step(br, _at(dx, rows), free, _at(ck, rows), _at(rk, rows)), _at(delta, rows))
        low = free & (xr + d <= box[0])
        high = free & ~low & (xr + d >= box[1])
        d = torch.where(low, box[0] - xr, torch.where(high, box[1] - xr, d))
        new = low | high
        norm_r = _at(clamp_norm, rows) + (d.square() * new).sum(1)
        c_r = _at(clamp_c, rows) + (br * d * new).sum(1)
        masked_r = ~free | new
        delta, clamp_norm, clamp_c, masked = (_put(t, rows, v) for t, v in (
            (delta, d), (clamp_norm, norm_r), (clamp_c, c_r), (masked, masked_r)))
        r2 = _at(r, rows).square()
        rk = _put(rk, rows, torch.where(norm_r < r2, (r2 - norm_r).clamp_min(0).sqrt(), 0.0))
        ck = _put(ck, rows, _at(c, rows) - c_r)
        running = new.any(1) & ~masked_r.all(1)
        rows = torch.nonzero(running).flatten() if rows is None else rows[running]
        if len(rows) == 0:
            break
    return delta
