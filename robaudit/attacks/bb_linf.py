"""The L∞ distance step of Brendel–Bethge's trust-region subproblem, for a whole batch at once.

    min_δ ‖x0 − x − δ‖∞   s.t.   bᵀδ = c,   lo_box ≤ x + δ ≤ hi_box,   ‖δ‖₂ ≤ r

as foolbox 3.3.4's ``LinfOptimizer`` states it (to its precision 1e-6), solved for every row at
once from the pieces of :mod:`robaudit.attacks.bb_subproblem`; the case analysis around it is
:mod:`robaudit.attacks.bb_step`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from robaudit.attacks import bb_subproblem
from robaudit.attacks.bb_subproblem import (
    corner,
    eps_box,
    hyperplane_step,
    lambda_bound,
    per_row,
    plane_lambda,
    reach_radius,
)
from robaudit.attacks.roots import ROOT_ITERS, Rows, drop_solved, gather_solved

LINF_TOL = 1e-6
"""Absolute precision of the L∞ radius (foolbox's ``etol``)."""
RADIUS_TOL = 1e-2
"""The L∞ search also stops once its feasible end uses the trust region to within this share of
r² (the radius is then far more precise than LINF_TOL: the squared norm changes steeply in ε)."""


Excess = Callable[[Tensor, Tensor, Tensor | None], tuple[Tensor, Tensor, Tensor]]
"""g(ε), λ and the step at radii ε (n,) for the rows given (None: all), from a λ guess (n,)."""


def _bracket(excess: Excess,
             far: Tensor, r: Tensor, eps_lo: Tensor, g_lo: Tensor, lam: Tensor, step_lo: Tensor,
             box: tuple[float, float], plane: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """A bracket [ε_lo, ε_hi] (N,) of the L∞ step's radius with g(ε_hi) ≤ 0, and g, λ, step at its
    ends, from the low end (ε_lo, g_lo, λ, step_lo), ``far`` = ‖x − x0‖∞ and ``plane``
    (:func:`_plane_end`). Late in the attack the root lies just below ``far`` or just below the
    plane's end ε_p: [ε_lo, ε_p] where ε_p ≤ far, else [ε_lo, far] where that suffices, else
    [far, min(far + r, ε_p)]. Rows with g_lo ≤ 0 are solved: their high end is their low end."""
    eps_hi, g_hi, lam_hi, step_hi, eps_lo, g_lo = (t.clone() for t in (eps_lo, g_lo, lam, step_lo, eps_lo, g_lo))
    eps_p, g_p, lam_p, step_p, has_p = plane

    def close_at_plane(rows: Tensor) -> None:
        # The hyperplane's own smallest point p is the step for every ε ≥ ε_p: a free high end.
        eps_hi[rows], g_hi[rows], lam_hi[rows], step_hi[rows] = eps_p[rows], g_p[rows], lam_p[rows], step_p[rows]

    binds = torch.nonzero(g_lo > 0).flatten()
    known = has_p[binds] & (eps_p[binds] <= far[binds])
    close_at_plane(binds[known])
    binds = binds[~known]
    eps_far = torch.maximum(far[binds], eps_lo[binds])
    g_far, lam_far, step_far = excess(eps_far, lam[binds], binds)
    fits = g_far <= 0
    inside, past = binds[fits], binds[~fits]
    eps_hi[inside], g_hi[inside] = eps_far[fits], g_far[fits]
    lam_hi[inside], step_hi[inside] = lam_far[fits], step_far[fits]
    if len(past):  # the root lies beyond far: [far, far + r], or [far, ε_p]
        eps_lo[past], g_lo[past] = eps_far[~fits], g_far[~fits]
        eps_hi[past] = torch.maximum(far[past] + r[past], eps_lo[past]).clamp(max=box[1] - box[0])
        by_p = has_p[past] & (eps_p[past] < eps_hi[past])
        close_at_plane(past[by_p])
        solve = past[~by_p]
        if len(solve):
            g_hi[solve], lam_hi[solve], step_hi[solve] = excess(eps_hi[solve], lam_far[~fits][~by_p], solve)
    return eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi


def _radius_slope(x0: Tensor, x: Tensor, b: Tensor, eps: Tensor, lam: Tensor, step: Tensor,
                  box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """d‖δ‖²/dε and dλ/dε (n,) at the ε-box step δ = clip(λ b / 2, lo(ε), hi(ε)) (n, D) that keeps
    bᵀδ = c: coordinates on a face of the ε-box move with ε (±1), free ones with λ, and the
    hyperplane fixes λ's rate: (Σ_free b²/2) λ' + Σ_faces ±b = 0. NaN where no coordinate is free."""
    below, above = x0 - per_row(eps), x0 + per_row(eps)  # as eps_box rounds them
    on_upper = (step == above - x) & (above < box[1])
    on_face = on_upper.to(b.dtype) - ((step == below - x) & (below > box[0])).to(b.dtype)
    free = (step == per_row(lam) * (b / 2)).to(b.dtype)
    lam_rate = -2 * torch.linalg.vecdot(b, on_face) / torch.linalg.vecdot(b * b, free)
    return lam_rate * torch.linalg.vecdot(step * b, free) + 2 * torch.linalg.vecdot(step, on_face), lam_rate


def _plane_end(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r2: Tensor,
               box: tuple[float, float]) -> tuple[Tensor, ...]:
    """The hyperplane's smallest point p = λ₀ b / 2 (λ₀ = plane_lambda, (N, D)): where it lies in
    the box and the trust region, it is the step for every ε ≥ ε_p = ‖x + p − x0‖∞, with
    g = ‖p‖² − r² ≤ 0, so ε_p closes the radius' bracket with no solve. Returns (ε_p, g, λ₀, p,
    (N,) bool: where it does)."""
    lam_p = plane_lambda(b, c)
    p = per_row(lam_p) * (b / 2)
    in_box = ((p >= box[0] - x) & (p <= box[1] - x)).all(1)
    g_p = torch.linalg.vecdot(p, p) - r2
    return (x + p - x0).abs().amax(1), g_p, lam_p, p, in_box & (g_p <= 0)


def _newton_guess(x0: Tensor, x: Tensor, b: Tensor, eps: Tensor, g: Tensor, lam: Tensor, step: Tensor,
                  r2: Tensor, box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Newton's next radius ε (n,) from the point (ε, g, λ, step) just solved, aimed inside the
    stopping window, and λ predicted there. Newton runs on ‖δ‖ rather than ‖δ‖²: late in the
    attack ‖δ‖ grows about linearly as ε falls below where δ vanishes, so ‖δ‖² has a near-double
    root there, which Newton only halves towards. NaN where the slope is unknown or zero."""
    slope, lam_rate = _radius_slope(x0, x, b, eps, lam, step, box)
    norm = (g + r2).clamp_min(0).sqrt()
    guess = eps + ((r2 * (1 - 0.2 * RADIUS_TOL)).sqrt() - norm) * 2 * norm / slope
    return guess, torch.where(torch.isfinite(lam_rate), lam + lam_rate * (guess - eps), lam)


def _solve_radius(excess: Excess, rows_of: Rows, r2: Tensor, box: tuple[float, float],
                  bracket: tuple[Tensor, ...]) -> Tensor:
    """The step (N, D) at the radius where g(ε) enters [−RADIUS_TOL · r², 0], from the bracket
    (ε_lo, g_lo, ε_hi, g_hi, λ_hi, step_hi) of :func:`_bracket`: Newton on ‖δ‖ where its step
    stays inside the bracket, else Illinois regula falsi, bisecting where it crawls. ``rows_of``:
    the problem's rows (x0, x, b, ...). Solved rows leave the work, except on
    KEEP_SOLVED_DEVICES, where they stay with their state masked (the same steps)."""
    eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi = bracket
    kept = torch.zeros_like(g_lo)  # +1: the low end was kept last time, −1: the high end
    g_feasible = g_hi  # g at eps_hi before any Illinois halving
    last_width = torch.full_like(g_lo, torch.inf)
    guess, lam_guess = torch.full_like(g_lo, torch.nan), lam_hi  # Newton's next ε and its λ
    out, rows = step_hi, None
    keep_solved = g_lo.device.type in bb_subproblem.KEEP_SOLVED_DEVICES
    for _ in range(ROOT_ITERS):
        done = (g_lo <= 0) | (eps_hi - eps_lo <= LINF_TOL) | (g_feasible >= -RADIUS_TOL * r2)
        if bool(done.all()):
            break
        if not keep_solved:  # an ε solve costs far more than the copies: drop every solved row
            rows, out, state = drop_solved(done, rows, out, step_hi, (
                eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi, kept, g_feasible, last_width, r2, done, guess,
                lam_guess), share=0.0)
            (eps_lo, g_lo, eps_hi, g_hi, lam_hi, step_hi, kept, g_feasible, last_width, r2, done, guess,
             lam_guess) = state
        width = eps_hi - eps_lo
        eps = (eps_lo * g_hi - eps_hi * g_lo) / (g_hi - g_lo)
        # Bisect where the last step did not halve the bracket (regula falsi can crawl).
        slow = ~torch.isfinite(eps) | (width > 0.5 * last_width)
        eps = torch.where(slow, (eps_lo + eps_hi) / 2, eps).clamp(eps_lo, eps_hi)
        # Newton's step from the last point, aimed inside the stopping window, wherever it lands
        # inside the bracket (the bracket keeps the search safe where the slope misleads).
        newton = (guess > eps_lo) & (guess < eps_hi)
        eps = torch.where(newton, guess, eps)
        last_width = width
        g, lam_mid, step = excess(eps, torch.where(newton, lam_guess, lam_hi), rows)
        x0_, x_, b_ = rows_of.take(rows)[:3]
        guess, lam_guess = _newton_guess(x0_, x_, b_, eps, g, lam_mid, step, r2, box)
        ok = (g <= 0) & ~done
        bad = (g > 0) & ~done
        # Illinois: halve the value of an end kept twice in a row, so both ends move.
        g_lo = torch.where(ok & (kept > 0), g_lo / 2, g_lo)
        g_hi = torch.where(bad & (kept < 0), g_hi / 2, g_hi)
        eps_hi, g_hi, lam_hi = torch.where(ok, eps, eps_hi), torch.where(ok, g, g_hi), torch.where(ok, lam_mid, lam_hi)
        g_feasible = torch.where(ok, g, g_feasible)
        step_hi = torch.where(per_row(ok), step, step_hi)
        eps_lo, g_lo = torch.where(bad, eps, eps_lo), torch.where(bad, g, g_lo)
        kept = torch.where(ok, 1.0, torch.where(bad, -1.0, kept))
    return gather_solved(rows, out, step_hi)


def linf_distance_step(x0: Tensor, x: Tensor, b: Tensor, c: Tensor, r: Tensor,
                       box: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """min ‖x0 − x − δ‖∞ s.t. bᵀδ = c, box, ‖δ‖₂ ≤ r: the smallest L∞ radius ε where the
    hyperplane meets the ε-box and its smallest-L2 point there lies in the trust region (as
    foolbox's ``LinfOptimizer``, to its precision 1e-6). Where the trust region does not bind,
    that is the radius where the hyperplane first touches the ε-box (:func:`reach_radius`).
    Elsewhere g(ε), the squared norm of that point minus r², decreasing in ε, is brought into
    [−RADIUS_TOL · r², 0] inside [max(ε_reach, ‖x − x0‖∞ − r), ‖x − x0‖∞ + r] (no point of the
    trust region lies outside it), split at ‖x − x0‖∞ first and closed at the hyperplane's own
    smallest point where that fits (:func:`_bracket`, :func:`_plane_end`): by Newton on ‖δ‖
    (:func:`_newton_guess`) wherever its step stays inside the bracket, else by regula falsi
    (Illinois, bisecting where it crawls); foolbox bisects over [0, 1]. Where the bracket
    starts at ε_reach, its low end needs no λ: the only point there is the ε-box's corner towards
    the hyperplane (about half the rows late in an attack). Returns the step
    (N, D) and (N,) bool: where the boundary is within the trust region at all (the smallest-L2
    point of the hyperplane in the box, the bracket's high end, lies in it; elsewhere the step is
    meaningless)."""
    r2 = r * r
    far = (x - x0).abs().amax(1)
    reach = reach_radius(x0, x, b, c, box)
    eps_lo = torch.maximum(reach, far - r)
    # At the reach radius the hyperplane touches the ε-box only at its corner towards it.
    step_lo = corner(b, c - torch.linalg.vecdot(b, x0 - x), *eps_box(x0, x, eps_lo, box))
    g_lo = torch.linalg.vecdot(step_lo, step_lo) - r2
    inner = torch.nonzero(reach < far - r).flatten()
    if len(inner) == 0 and bool((g_lo <= 0).all()):  # early in an attack: nothing more to solve
        return step_lo, g_lo <= 0
    lam = plane_lambda(b, c)
    rows_of = Rows(x0, x, b, c, r2, lambda_bound(b, box[0] - x, box[1] - x))

    def excess(eps: Tensor, lam0: Tensor, rows: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        x0_, x_, b_, c_, r2_, bound_ = rows_of.take(rows)
        lam_, step = hyperplane_step(b_, *eps_box(x0_, x_, eps, box), c_, lam0, 1e-4, bound_)
        return torch.linalg.vecdot(step, step) - r2_, lam_, step

    if len(inner):
        g_lo[inner], lam[inner], step_lo[inner] = excess(eps_lo[inner], lam[inner], inner)
    if bool((g_lo <= 0).all()):  # the trust region binds nowhere
        return step_lo, g_lo <= 0
    plane = _plane_end(x0, x, b, c, r2, box)
    bracket = _bracket(excess, far, r, eps_lo, g_lo, lam, step_lo, box, plane)
    return _solve_radius(excess, rows_of, r2, box, bracket), bracket[3] <= 0
