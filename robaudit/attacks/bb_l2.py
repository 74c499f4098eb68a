"""The L2 distance step of Brendel–Bethge's trust-region subproblem, for a whole batch at once.

    min_δ ‖x0 − x − δ‖₂   s.t.   bᵀδ = c,   lo_box ≤ x + δ ≤ hi_box,   ‖δ‖₂ ≤ r

by foolbox 3.3.4's ``L2Optimizer`` active-set method, every row of (N, D) tensors at once (foolbox
runs it per image in numba; see :mod:`robaudit.attacks.bb_subproblem` for the L∞ step and the case
analysis around both).
"""

from __future__ import annotations

import torch
from torch import Tensor


def l2_distance_step(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor,
                     box: tuple[float, float]) -> Tensor:
    """min ‖x0 − x − δ‖₂ s.t. bᵀδ = c, box, ‖δ‖₂ ≤ r: foolbox's ``L2Optimizer`` active-set
    solver (optimal step over the coordinates not at a bound; clamp those that leave the box and
    repeat, at most 20 rounds), for every row at once."""
    dx = x0 - x
    n = len(x)
    masked = torch.zeros_like(x, dtype=torch.bool)
    delta = torch.zeros_like(x)
    clamp_c, clamp_norm = torch.zeros(n, dtype=x.dtype, device=x.device), torch.zeros_like(r)
    ck, rk = c.clone(), r.clone()
    running = torch.ones(n, dtype=torch.bool, device=x.device)
    for _ in range(20):
        free = ~masked
        bf, dxf = b * free, dx * free
        bnorm = 1e-8 + (bf * bf).sum(1)
        bdot_dx = (bf * dxf).sum(1) / bnorm
        ck_bnorm = ck / bnorm
        cand = dxf + bf * (ck_bnorm - bdot_dx)[:, None]
        boundary_norm = ck_bnorm.square() * (bf * bf).sum(1)
        descent_norm = (dxf - bf * bdot_dx[:, None]).square().sum(1)
        correct = (rk.square() - boundary_norm).clamp_min(0).sqrt() / (descent_norm.sqrt() + 1e-8)
        corrected = correct[:, None] * dxf + bf * (ck_bnorm - correct * bdot_dx)[:, None]
        too_far = boundary_norm > rk.square()
        cand = torch.where(too_far[:, None], bf * ck_bnorm[:, None],
                           torch.where((cand.square().sum(1) > rk.square())[:, None], corrected, cand))
        update = free & running[:, None]
        delta = torch.where(update, cand, delta)
        low = update & (x + delta <= box[0])
        high = update & ~low & (x + delta >= box[1])
        delta = torch.where(low, box[0] - x, torch.where(high, box[1] - x, delta))
        new = low | high
        clamp_norm = clamp_norm + (delta.square() * new).sum(1)
        clamp_c = clamp_c + (b * delta * new).sum(1)
        masked |= new
        rk = torch.where(clamp_norm < r.square(), (r.square() - clamp_norm).clamp_min(0).sqrt(), 0.0)
        ck = c - clamp_c
        running &= new.any(1) & ~masked.all(1)
        if not bool(running.any()):
            break
    return delta
