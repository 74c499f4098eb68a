"""Brendel–Bethge's trust-region subproblem, solved for a whole batch at once in torch.

Each step of the attack solves, per image (rows of (N, D) float64 tensors),

    min_δ ‖x0 − (x + δ)‖_p   s.t.   lo_box ≤ x + δ ≤ hi_box,   bᵀδ = c,   ‖δ‖₂ ≤ r

(b: the boundary's normal estimate, c: the wanted change of the logit difference, r: the trust
region). foolbox 3.3.4 solves it with numba-compiled code, one image at a time on the CPU, and
numba compiles it anew in every process (~24 s per norm). Written by hand here because no library
solves it batched: every piece reduces to one-dimensional monotone root finding (a Lagrange
multiplier, a step length, an L∞ radius), done for all images at once on the inputs' device:
sums of clamped linear pieces exactly by sorting their breakpoints (on a GPU, where the number
of tensor operations sets the time), the rest by safeguarded Newton / bisection. The case
analysis follows ``foolbox.attacks.brendel_bethge.Optimizer`` and ``LinfOptimizer``; the L2
distance step (``L2Optimizer``) is :mod:`robaudit.attacks.bb_l2`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robaudit.attacks.roots import (
    TINY,
    Rows,
    clamped_sum_root,
    monotone_root,
)

EPS = 1e-10
"""Keeps denominators such as Σb² away from zero."""
EXACT_ROOT_DEVICES = frozenset({"cuda"})
"""Device types where the hyperplane step's λ and the L∞ reach radius are found by sorting
breakpoints (:func:`clamped_sum_root`: ~25 tensor operations, no host synchronisation) rather than
by safeguarded Newton, whose few passes over the rows cost less on a CPU than a sort (a step of
48 images × 3,072 values took about 3× as long with the sort there)."""
KEEP_SOLVED_DEVICES = frozenset({"cuda"})
"""Device types where the L∞ radius search keeps its solved rows in the working tensors instead of
dropping them: on a GPU a drop costs two host synchronisations and a gather of the 13 state
tensors per iteration while the solved rows' share of each operation is nearly free; their state
is masked, so the steps are the same (about 8 of 19 synchronisations and 100 of 1,270 tensor
operations per Brendel–Bethge step, counted on 48 images of the embedded CNN). On a CPU, where
the arithmetic sets the time, keeping them made `standard` and `fast` 1.16–1.18× slower."""


def per_row(v: Tensor) -> Tensor:
    """v (N,) as (N, 1), to scale or shift each row of an (N, D) tensor."""
    return v.unsqueeze(1)


def plane_lambda(b: Tensor, c: Tensor) -> Tensor:
    """λ (N,) of the hyperplane bᵀδ = c's smallest-L2 point δ = λ b / 2, ignoring the box: Newton's
    start for :func:`hyperplane_step`."""
    return 2 * c / ((b * b).sum(1) + EPS)


def lambda_bound(b: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """|λ| (N,) beyond which clip(λ b / 2, lo, hi) no longer changes (capped at 1e12)."""
    reach = 2 * torch.maximum(lo.abs(), hi.abs()) / b.abs().clamp_min(TINY)
    return torch.where(b != 0, reach, torch.zeros_like(reach)).amax(1).clamp(1.0, 1e12)


def hyperplane_step(b: Tensor, lo: Tensor, hi: Tensor, c: Tensor, lam0: Tensor, rel_tol: float,
                    bound: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The smallest-L2 δ with bᵀδ = c and lo ≤ δ ≤ hi (all (N, D) but c (N,)): δ = clip(λ b / 2),
    λ within ±``bound`` (default :func:`lambda_bound`): exactly on EXACT_ROOT_DEVICES, else by
    Newton from ``lam0`` (N,) to ``rel_tol`` of c. Where c is out of reach, the nearest corner.
    Returns (λ (N,), δ (N, D))."""
    half_b, half_b2 = b / 2, b * b / 2
    rows_of = Rows(b, half_b, half_b2, lo, hi)

    def phi(lam: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        b_, half_b_, half_b2, lo_, hi_ = rows_of.take(rows)
        free = per_row(lam) * half_b_
        step = torch.clamp(free, lo_, hi_)
        return torch.linalg.vecdot(b_, step), torch.linalg.vecdot(half_b2, (step == free).to(b.dtype))

    bound = lambda_bound(b, lo, hi) if bound is None else bound
    if b.device.type in EXACT_ROOT_DEVICES:
        # bᵀδ is a sum of clamped linear pieces: slope b_i²/2 between λ = 2·lo_i/b_i and 2·hi_i/b_i.
        ends = (2 * lo / b).nan_to_num(0.0, 0.0, 0.0), (2 * hi / b).nan_to_num(0.0, 0.0, 0.0)  # b = 0: no piece
        start, end = (torch.minimum(*ends).clamp(-per_row(bound), per_row(bound)),
                      torch.maximum(*ends).clamp(-per_row(bound), per_row(bound)))
        lam = clamped_sum_root(start, end, half_b2, c - torch.minimum(b * lo, b * hi).sum(1))
    else:
        lam = monotone_root(phi, c, rel_tol * c.abs() + EPS, -bound, bound, lam0)
    return lam, torch.clamp(per_row(lam) * half_b, lo, hi)


def corner(b: Tensor, c: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """The box corner δ (N, D) that changes bᵀδ most in the direction of sign(c)
    (foolbox's ``_max_logit_diff``)."""
    up = (b > 0) == per_row(c > 0)
    return torch.where(up, hi, lo)


def boundary_step(b: Tensor, c: Tensor, r: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Where the boundary is out of reach: the step δ = clip(sign(c) t b) furthest towards it
    with ‖δ‖₂ ≤ r (foolbox's ``optimize_boundary_s_t_trustregion``; foolbox's closing line steps
    along −b whatever the sign of c, which for c > 0 walks away from the boundary, so this
    follows the problem it states instead)."""
    sb = torch.where(per_row(c > 0), b, -b)
    rows_of = Rows(sb, b * b, lo, hi)

    def norm2(t: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        sb_, b2, lo_, hi_ = rows_of.take(rows)
        free = per_row(t) * sb_
        step = torch.clamp(free, lo_, hi_)
        return torch.linalg.vecdot(step, step), 2 * t * torch.linalg.vecdot(b2, (step == free).to(b.dtype))

    reach = torch.maximum(lo.abs(), hi.abs()) / b.abs().clamp_min(TINY)
    t_max = torch.where(b != 0, reach, torch.zeros_like(reach)).amax(1).clamp(1e-12, 1e12)
    r2 = r * r
    t = monotone_root(norm2, r2, 1e-6 * r2, torch.zeros_like(r), t_max, r / b.norm(dim=1).clamp_min(TINY))
    full = norm2(t_max, None)[0] <= r2  # the whole corner fits in the trust region
    t = torch.where(full, t_max, t)
    return torch.clamp(per_row(t) * sb, lo, hi)


def eps_box(x0: Tensor, x: Tensor, eps: Tensor, box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Bounds (lo, hi) (N, D) on δ keeping x + δ in the box and within ε (N,) of x0 in L∞."""
    lo = torch.clamp(x0 - per_row(eps), min=box[0]) - x
    hi = torch.clamp(x0 + per_row(eps), max=box[1]) - x
    return lo, hi


def reach_radius(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, box: tuple[float, float]) -> Tensor:
    """The smallest L∞ radius ε (N,) whose ε-box around x0 (within the box) holds a δ with
    bᵀδ = c. From x0 (ε = 0: bᵀδ = bᵀ(x0 − x)) the gap to c closes fastest by moving every
    coordinate by ε along ±sign(b); the gap closed is piecewise linear and nondecreasing in ε
    (slope: Σ|b| over coordinates not yet at the box's edge), so Newton finds its root (on
    EXACT_ROOT_DEVICES :func:`clamped_sum_root`, exactly)."""
    gap = c - torch.linalg.vecdot(b, x0 - x)
    if b.device.type in EXACT_ROOT_DEVICES:  # Σ|b_i|·min(ε, room_i): clamped linear pieces
        room = torch.where((b > 0) == per_row(gap > 0), box[1] - x0, x0 - box[0])
        return clamped_sum_root(torch.zeros_like(room), room, b.abs(), gap.abs()).clamp(0.0, box[1] - box[0])
    towards = torch.where(per_row(gap > 0), b.sign(), -b.sign())
    weight = b.abs()

    rows_of = Rows(towards, weight, box[0] - x0, box[1] - x0)

    def closed(eps: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        towards_, weight_, room_lo, room_hi = rows_of.take(rows)
        free = per_row(eps) * towards_
        moved = torch.clamp(free, room_lo, room_hi)
        inside = (moved == free) & (towards_ != 0)
        return torch.linalg.vecdot(weight_, moved * towards_), torch.linalg.vecdot(weight_, inside.to(b.dtype))

    span = box[1] - box[0]
    zero = torch.zeros_like(c)
    # Newton starts where the gap closes if no coordinate reaches the box's edge first (exact
    # then, as for most rows at an attack's small radii), so it takes 1–2 passes, not 4.
    start = (gap.abs() / weight.sum(1).clamp_min(TINY)).clamp(0.0, span)
    return monotone_root(closed, gap.abs(), 1e-5 * gap.abs() + EPS, zero, zero + span, start)
