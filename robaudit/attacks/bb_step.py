"""One step of Brendel–Bethge's trust-region subproblem for a whole batch: foolbox's case analysis.

Where the boundary is out of the trust region's reach, the step goes towards it
(:func:`robaudit.attacks.bb_subproblem.boundary_step`); elsewhere it is the distance step of the
norm (:mod:`robaudit.attacks.bb_linf`, :mod:`robaudit.attacks.bb_l2`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from robaudit.attacks.bb_l2 import l2_distance_step
from robaudit.attacks.bb_linf import linf_distance_step
from robaudit.attacks.bb_subproblem import boundary_step, corner, hyperplane_step, plane_lambda
from robaudit.attacks.roots import Rows

Problem = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]
"""(x0, x, b, c, r) of the subproblem, rows first."""


def _solvable_rows(s: Tensor, x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor) -> Problem:
    """The rows s of the problem: the tensors themselves where s holds every row (the usual case),
    so no gathered copies are made."""
    x0_, x_, b_, c_, r_ = Rows(x0, x, b, c, r).take(None if len(s) == len(x) else s)
    return x0_, x_, b_, c_, r_


def trust_region_step(norm: str, x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor,
                      box: tuple[float, float]) -> Tensor:
    """The step δ (N, D) of each row, by foolbox's case analysis (``Optimizer.solve``): towards the
    boundary within the trust region where it cannot be reached, else the distance step."""
    lo, hi = box[0] - x, box[1] - x
    toward = corner(b, c, lo, hi)
    solvable = (b * toward).sum(1).abs() >= c.abs()
    delta = torch.empty_like(x)
    if norm == "linf":  # the L∞ solver tells where the boundary is beyond the trust region
        s = torch.nonzero(solvable).flatten()
        if len(s):
            delta[s], solvable[s] = linf_distance_step(*_solvable_rows(s, x0, x, b, c, r), box)
    else:
        u = torch.nonzero(solvable & (toward.norm(dim=1) >= r)).flatten()
        if len(u):
            nearest = hyperplane_step(b[u], lo[u], hi[u], c[u], plane_lambda(b[u], c[u]), 1e-3)[1]
            solvable[u] = nearest.norm(dim=1) <= r[u]
        s = torch.nonzero(solvable).flatten()
        if len(s):
            delta[s] = l2_distance_step(*_solvable_rows(s, x0, x, b, c, r), box)
    o = torch.nonzero(~solvable).flatten()
    if len(o):
        delta[o] = boundary_step(b[o], c[o], r[o], lo[o], hi[o])
    return delta
