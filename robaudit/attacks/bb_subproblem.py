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

from collections.abc import Callable

import torch
from torch import Tensor

from robaudit.attacks.bb_l2 import l2_distance_step
from robaudit.attacks.roots import (
    ROOT_ITERS,
    TINY,
    Rows,
    clamped_sum_root,
    drop_solved,
    gather_solved,
    monotone_root,
)

EPS = 1e-10
"""Keeps denominators such as Σb² away from zero."""
LINF_TOL = 1e-6
"""Absolute precision of the L∞ radius (foolbox's ``etol``)."""
EXACT_ROOT_DEVICES = frozenset({"cuda"})
"""Device types where the hyperplane step's λ and the L∞ reach radius are found by sorting
breakpoints (:func:`clamped_sum_root`: ~25 tensor operations, no host synchronisation) rather than
by safeguarded Newton, whose few passes over the rows cost less on a CPU than a sort (a step of
48 images × 3,072 values took about 3× as long with the sort there)."""
RADIUS_TOL = 1e-2
"""The L∞ search also stops once its feasible end uses the trust region to within this share of
r² (the radius is then far more precise than LINF_TOL: the squared norm changes steeply in ε)."""


def _rows(v: Tensor) -> Tensor:
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
        free = _rows(lam) * half_b_
        step = torch.clamp(free, lo_, hi_)
        return torch.linalg.vecdot(b_, step), torch.linalg.vecdot(half_b2, (step == free).to(b.dtype))

    bound = lambda_bound(b, lo, hi) if bound is None else bound
    if b.device.type in EXACT_ROOT_DEVICES:
        # bᵀδ is a sum of clamped linear pieces: slope b_i²/2 between λ = 2·lo_i/b_i and 2·hi_i/b_i.
        ends = (2 * lo / b).nan_to_num(0.0, 0.0, 0.0), (2 * hi / b).nan_to_num(0.0, 0.0, 0.0)  # b = 0: no piece
        start, end = (torch.minimum(*ends).clamp(-_rows(bound), _rows(bound)),
                      torch.maximum(*ends).clamp(-_rows(bound), _rows(bound)))
        lam = clamped_sum_root(start, end, half_b2, c - torch.minimum(b * lo, b * hi).sum(1))
    else:
        lam = monotone_root(phi, c, rel_tol * c.abs() + EPS, -bound, bound, lam0)
    return lam, torch.clamp(_rows(lam) * half_b, lo, hi)


def corner(b: Tensor, c: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """The box corner δ (N, D) that changes bᵀδ most in the direction of sign(c)
    (foolbox's ``_max_logit_diff``)."""
    up = (b > 0) == _rows(c > 0)
    return torch.where(up, hi, lo)


def boundary_step(b: Tensor, c: Tensor, r: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Where the boundary is out of reach: the step δ = clip(sign(c) t b) furthest towards it
    with ‖δ‖₂ ≤ r (foolbox's ``optimize_boundary_s_t_trustregion``; foolbox's closing line steps
    along −b whatever the sign of c, which for c > 0 walks away from the boundary, so this
    follows the problem it states instead)."""
    sb = torch.where(_rows(c > 0), b, -b)
    rows_of = Rows(sb, b * b, lo, hi)

    def norm2(t: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        sb_, b2, lo_, hi_ = rows_of.take(rows)
        free = _rows(t) * sb_
        step = torch.clamp(free, lo_, hi_)
        return torch.linalg.vecdot(step, step), 2 * t * torch.linalg.vecdot(b2, (step == free).to(b.dtype))

    reach = torch.maximum(lo.abs(), hi.abs()) / b.abs().clamp_min(TINY)
    t_max = torch.where(b != 0, reach, torch.zeros_like(reach)).amax(1).clamp(1e-12, 1e12)
    r2 = r * r
    t = monotone_root(norm2, r2, 1e-6 * r2, torch.zeros_like(r), t_max, r / b.norm(dim=1).clamp_min(TINY))
    full = norm2(t_max, None)[0] <= r2  # the whole corner fits in the trust region
    t = torch.where(full, t_max, t)
    return torch.clamp(_rows(t) * sb, lo, hi)


def _eps_box(x0: Tensor, x: Tensor, eps: Tensor, box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Bounds (lo, hi) (N, D) on δ keeping x + δ in the box and within ε (N,) of x0 in L∞."""
    lo = torch.clamp(x0 - _rows(eps), min=box[0]) - x
    hi = torch.clamp(x0 + _rows(eps), max=box[1]) - x
    return lo, hi


def reach_radius(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, box: tuple[float, float]) -> Tensor:
    """The smallest L∞ radius ε (N,) whose ε-box around x0 (within the box) holds a δ with
    bᵀδ = c. From x0 (ε = 0: bᵀδ = bᵀ(x0 − x)) the gap to c closes fastest by moving every
    coordinate by ε along ±sign(b); the gap closed is piecewise linear and nondecreasing in ε
    (slope: Σ|b| over coordinates not yet at the box's edge), so Newton finds its root (on
    EXACT_ROOT_DEVICES :func:`clamped_sum_root`, exactly)."""
    gap = c - torch.linalg.vecdot(b, x0 - x)
    if b.device.type in EXACT_ROOT_DEVICES:  # Σ|b_i|·min(ε, room_i): clamped linear pieces
        room = torch.where((b > 0) == _rows(gap > 0), box[1] - x0, x0 - box[0])
        return clamped_sum_root(torch.zeros_like(room), room, b.abs(), gap.abs()).clamp(0.0, box[1] - box[0])
    towards = torch.where(_rows(gap > 0), b.sign(), -b.sign())
    weight = b.abs()

    rows_of = Rows(towards, weight, box[0] - x0, box[1] - x0)

    def closed(eps: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        towards_, weight_, room_lo, room_hi = rows_of.take(rows)
        free = _rows(eps) * towards_
        moved = torch.clamp(free, room_lo, room_hi)
        inside = (moved == free) & (towards_ != 0)
        return torch.linalg.vecdot(weight_, moved * towards_), torch.linalg.vecdot(weight_, inside.to(b.dtype))

    span = box[1] - box[0]
    zero = torch.zeros_like(c)
    return monotone_root(closed, gap.abs(), 1e-5 * gap.abs() + EPS, zero, zero + span, zero + span / 2)


def _bracket(excess: Callable[[Tensor, Tensor, Tensor | None], tuple[Tensor, Tensor, Tensor]],
             far: Tensor, r: Tensor, eps_lo: Tensor, g_lo: Tensor, lam: Tensor, step_lo: Tensor,
             box: tuple[float, float]) -> tuple[Tensor, ...]:
    """A bracket [ε_lo, ε_hi] (N,) of the L∞ step's radius with g(ε_hi) ≤ 0, and g, λ, step at its
    ends, from the low end (ε_lo, g_lo, λ, step_lo) and ``far`` = ‖x − x0‖∞. Late in the attack
    the root lies just below ``far``, so it is tried first: [ε_lo, far] where it suffices, else
    [far, far + r]. Rows with g_lo ≤ 0 are solved: their high end is their low end."""
    eps_hi, g_hi, lam_hi, step_hi, eps_lo, g_lo = (t.clone() for t in (eps_lo, g_lo, lam, step_lo, eps_lo, g_lo))
    binds = torch.nonzero(g_lo > 0).flatten()
    eps_far = torch.maximum(far[binds], eps_lo[binds])
    g_far, lam_far, step_far = excess(eps_far, lam[binds], binds)
    fits = g_far <= 0
    inside, past = binds[fits], binds[~fits]
    eps_hi[inside], g_hi[inside] = eps_far[fits], g_far[fits]
    lam_hi[inside], step_hi[inside] = lam_far[fits], step_far[fits]
    if len(past):  # the root lies beyond far: [far, far + r]
        eps_lo[past], g_lo[past] = eps_far[~fits], g_far[~fits]
        eps_hi[past] = torch.maximum(far[past] + r[past], eps_lo[past]).clamp(max=box[1] - box[0])
        g_hi[past], lam_hi[past], step_hi[past] = excess(eps_hi[past], lam_far[~fits], past)
    return eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi


def linf_distance_step(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor,
                       box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """min ‖x0 − x − δ‖∞ s.t. bᵀδ = c, box, ‖δ‖₂ ≤ r: the smallest L∞ radius ε where the
    hyperplane meets the ε-box and its smallest-L2 point there lies in the trust region (as
    foolbox's ``LinfOptimizer``, to its precision 1e-6). Where the trust region does not bind,
    that is the radius where the hyperplane first touches the ε-box (:func:`reach_radius`).
    Elsewhere the squared norm of that point minus r², convex and decreasing in ε, is brought
    to zero by regula falsi (Illinois, bisecting where it crawls) inside
    [max(ε_reach, ‖x − x0‖∞ − r), ‖x − x0‖∞ + r] (no point of the trust region lies outside it),
    split at ‖x − x0‖∞ first (:func:`_bracket`); foolbox bisects over [0, 1]. Where the bracket
    starts at ε_reach, its low end needs no λ: the only point there is the ε-box's corner towards
    the hyperplane (about half the rows late in an attack). Returns the step
    (N, D) and (N,) bool: where the boundary is within the trust region at all (the smallest-L2
    point of the hyperplane in the box, the bracket's high end, lies in it; elsewhere the step is
    meaningless)."""
    bound = lambda_bound(b, box[0] - x, box[1] - x)
    lam = plane_lambda(b, c)
    r2 = r * r

    rows_of = Rows(x0, x, b, c, r2, bound)

    def excess(eps: Tensor, lam0: Tensor, rows: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        x0_, x_, b_, c_, r2_, bound_ = rows_of.take(rows)
        lam_, step = hyperplane_step(b_, *_eps_box(x0_, x_, eps, box), c_, lam0, 1e-4, bound_)
        return torch.linalg.vecdot(step, step) - r2_, lam_, step

    far = (x - x0).abs().amax(1)
    reach = reach_radius(x0, x, b, c, box)
    eps_lo = torch.maximum(reach, far - r)
    # At the reach radius the hyperplane touches the ε-box only at its corner towards it.
    step_lo = corner(b, c - torch.linalg.vecdot(b, x0 - x), *_eps_box(x0, x, eps_lo, box))
    g_lo = torch.linalg.vecdot(step_lo, step_lo) - r2
    inner = torch.nonzero(reach < far - r).flatten()
    if len(inner):
        g_lo[inner], lam[inner], step_lo[inner] = excess(eps_lo[inner], lam[inner], inner)
    if bool((g_lo <= 0).all()):  # the trust region binds nowhere
        return step_lo, g_lo <= 0
    eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi = _bracket(excess, far, r, eps_lo, g_lo, lam, step_lo, box)
    reachable = g_hi <= 0
    kept = torch.zeros_like(c)  # +1: the low end was kept last time, −1: the high end
    g_feasible = g_hi  # g at eps_hi before any Illinois halving
    last_width = torch.full_like(c, torch.inf)
    out, rows = step_hi, None
    for _ in range(ROOT_ITERS):
        done = (g_lo <= 0) | (eps_hi - eps_lo <= LINF_TOL) | (g_feasible >= -RADIUS_TOL * r2)
        if bool(done.all()):
            break
        rows, out, state = drop_solved(done, rows, out, step_hi, (
            eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi, kept, g_feasible, last_width, r2, done))
        eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi, kept, g_feasible, last_width, r2, done = state
        width = eps_hi - eps_lo
        eps = (eps_lo * g_hi - eps_hi * g_lo) / (g_hi - g_lo)
        # Bisect where the last step did not halve the bracket (regula falsi can crawl).
        slow = ~torch.isfinite(eps) | (width > 0.5 * last_width)
        eps = torch.where(slow, (eps_lo + eps_hi) / 2, eps).clamp(eps_lo, eps_hi)
        last_width = width
        g, lam_mid, step = excess(eps, lam_hi, rows)
        ok = (g <= 0) & ~done
        bad = (g > 0) & ~done
        # Illinois: halve the value of an end kept twice in a row, so both ends move.
        g_lo = torch.where(ok & (kept > 0), g_lo / 2, g_lo)
        g_hi = torch.where(bad & (kept < 0), g_hi / 2, g_hi)
        eps_hi, g_hi, lam_hi = torch.where(ok, eps, eps_hi), torch.where(ok, g, g_hi), torch.where(ok, lam_mid, lam_hi)
        g_feasible = torch.where(ok, g, g_feasible)
        step_hi = torch.where(_rows(ok), step, step_hi)
        eps_lo, g_lo = torch.where(bad, eps, eps_lo), torch.where(bad, g, g_lo)
        kept = torch.where(ok, 1.0, torch.where(bad, -1.0, kept))
    return gather_solved(rows, out, step_hi), reachable


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
            delta[s], solvable[s] = linf_distance_step(x0[s], x[s], b[s], c[s], r[s], box)
    else:
        u = torch.nonzero(solvable & (toward.norm(dim=1) >= r)).flatten()
        if len(u):
            nearest = hyperplane_step(b[u], lo[u], hi[u], c[u], plane_lambda(b[u], c[u]), 1e-3)[1]
            solvable[u] = nearest.norm(dim=1) <= r[u]
        s = torch.nonzero(solvable).flatten()
        if len(s):
            delta[s] = l2_distance_step(x0[s], x[s], b[s], c[s], r[s], box)
    o = torch.nonzero(~solvable).flatten()
    if len(o):
        delta[o] = boundary_step(b[o], c[o], r[o], lo[o], hi[o])
    return delta
