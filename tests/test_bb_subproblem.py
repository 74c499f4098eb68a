"""The L∞ trust-region step of the batched Brendel–Bethge attack against a general solver.

Truth: a plain bisection (float64, to the last bit) on the problem the step states, per row,

    min_δ ‖x0 − (x + δ)‖∞   s.t.   bᵀδ = c,   0 ≤ x + δ ≤ 1,   ‖δ‖₂ ≤ r,

through its KKT conditions, and min ‖δ‖₂ s.t. bᵀδ = c and the box, which decides whether the
boundary lies within the trust region at all (foolbox's case analysis).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor

from robaudit.attacks import bb_linf, bb_subproblem
from robaudit.attacks.bb_step import trust_region_step
from robaudit.attacks.bb_subproblem import boundary_step

BOX = (0.0, 1.0)


def _nearest(b: np.ndarray, c: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """The smallest-L2 δ with bᵀδ = c and lo ≤ δ ≤ hi (None where no δ of the box reaches c): by
    the KKT conditions δ = clip(λ b / 2, lo, hi), and bᵀδ grows with λ, so λ is bisected."""
    def reach(lam: float) -> float:
        return float(b @ np.clip(lam * b / 2, lo, hi))

    low, high = -1e12, 1e12
    if not reach(low) <= c <= reach(high):
        return None
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if reach(mid) < c else (low, mid)
    return np.clip(high * b / 2, lo, hi)


def _linf_radius(x0: np.ndarray, x: np.ndarray, b: np.ndarray, c: float, r: float) -> float:
    """The smallest ε = ‖x + δ − x0‖∞ over the feasible δ: the smallest-L2 δ of the hyperplane
    within the box and the ε-box shrinks as ε grows, so ε is bisected until it fits in ‖δ‖₂ ≤ r."""
    def fits(eps: float) -> bool:
        d = _nearest(b, c, np.maximum(x0 - eps, 0) - x, np.minimum(x0 + eps, 1) - x)
        return d is not None and float(np.linalg.norm(d)) <= r

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high


def _rows(seed: int, n: int = 24, dim: int = 6) -> tuple[Tensor, ...]:
    """Late-attack-like rows: x a small L∞ step from x0, b a random normal, c a small change of
    the logit difference, r spread from binding nowhere to leaving the boundary out of reach."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, dim, generator=g, dtype=torch.float64) * 0.6 + 0.2
    x = (x0 + (torch.rand(n, dim, generator=g, dtype=torch.float64) * 2 - 1) * 0.05).clamp(0, 1)
    b = torch.randn(n, dim, generator=g, dtype=torch.float64)
    c = (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * 0.05
    r = 10 ** (torch.rand(n, generator=g, dtype=torch.float64) * 3 - 3)  # 1e-3 … 1
    return x0, x, b, c, r


def _late_rows(seed: int, n: int = 24, dim: int = 48) -> tuple[Tensor, ...]:
    """Rows as Brendel–Bethge's last steps make them: x on the L∞ sphere of radius ``far`` around
    x0 in most coordinates, the wanted change c tiny, so the hyperplane's own smallest point lies
    in the box and the trust region, and the radius' root sits just below ‖x + p − x0‖∞."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, dim, generator=g, dtype=torch.float64) * 0.6 + 0.2
    far = torch.rand(n, 1, generator=g, dtype=torch.float64) * 0.01 + 0.002
    sign = torch.randint(0, 2, (n, dim), generator=g).double() * 2 - 1
    inside = torch.rand(n, dim, generator=g, dtype=torch.float64) < 0.2  # a few coordinates not saturated
    x = x0 + far * sign * torch.where(inside, torch.rand(n, dim, generator=g, dtype=torch.float64), 1.0)
    b = torch.randn(n, dim, generator=g, dtype=torch.float64)
    c = (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * 1e-5
    r = far[:, 0] * 10 ** (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1.5)  # 0.03 … 3 far
    return x0, x, b, c, r


@pytest.mark.parametrize(("rows", "least"), [(_rows, {"distance": 5, "boundary": 3}), (_late_rows, {"distance": 20})])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linf_step_matches_a_general_solver(seed: int, rows: Callable[[int], tuple[Tensor, ...]],
                                            least: dict[str, int], lambda_solver: str) -> None:
    x0, x, b, c, r = rows(seed)
    if rows is _late_rows:  # the case the hyperplane's own point closes the bracket
        assert bool(bb_linf._plane_end(x0, x, b, c, r * r, BOX)[4].any())
    delta = trust_region_step("linf", x0, x, b, c, r, BOX)
    kinds = {"distance": 0, "boundary": 0}
    for i in range(len(x)):
        xi, bi, ci, ri = x[i].numpy(), b[i].numpy(), float(c[i]), float(r[i])
        assert float(delta[i].norm()) <= ri * (1 + 1e-6)
        assert bool(((x[i] + delta[i] >= -1e-12) & (x[i] + delta[i] <= 1 + 1e-12)).all())
        lo, hi = BOX[0] - x[i : i + 1], BOX[1] - x[i : i + 1]
        nearest = _nearest(bi, ci, lo[0].numpy(), hi[0].numpy())
        reach = np.inf if nearest is None else float(np.linalg.norm(nearest))
        if reach <= ri * (1 - 1e-3):
            kinds["distance"] += 1  # on the hyperplane, at the smallest L∞ distance to x0
            reached = float(bi @ delta[i].numpy())  # λ is found to 1e-4 of c
            assert reached == pytest.approx(ci, rel=1e-3, abs=1e-12)
            radius = float((x[i] + delta[i] - x0[i]).abs().max())
            # Optimal for the c it reached, up to the documented stops: ‖δ‖² within RADIUS_TOL of
            # r², or a bracket narrower than LINF_TOL.
            slack = bb_linf.LINF_TOL + 1e-9
            shrunk = ri * np.sqrt(1 - bb_linf.RADIUS_TOL)
            assert radius >= _linf_radius(x0[i].numpy(), xi, bi, reached, ri) - slack
            assert radius <= _linf_radius(x0[i].numpy(), xi, bi, reached, shrunk) + slack
        elif reach >= ri * (1 + 1e-3):
            kinds["boundary"] += 1  # out of reach: foolbox's step towards the boundary
            expected = boundary_step(b[i : i + 1], c[i : i + 1], r[i : i + 1], lo, hi)[0]
            assert torch.allclose(delta[i], expected, atol=1e-9)
    assert all(kinds[kind] >= count for kind, count in least.items()), kinds


@pytest.mark.parametrize("rows", [_rows, _late_rows])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keeping_solved_rows_gives_the_same_linf_steps(seed: int, rows: Callable[[int], tuple[Tensor, ...]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU's way (solved rows stay in the radius search, masked) and the CPU's (they leave the
    work) give bitwise the same steps, on the GPU's exact λ solver."""
    monkeypatch.setattr(bb_subproblem, "EXACT_ROOT_DEVICES", frozenset({"cpu"}))
    x0, x, b, c, r = rows(seed)
    r = r * 0.3  # more rows where the trust region binds: the radius search runs several iterations
    monkeypatch.setattr(bb_subproblem, "KEEP_SOLVED_DEVICES", frozenset())
    dropped = trust_region_step("linf", x0, x, b, c, r, BOX)
    monkeypatch.setattr(bb_subproblem, "KEEP_SOLVED_DEVICES", frozenset({"cpu"}))
    kept = trust_region_step("linf", x0, x, b, c, r, BOX)
    assert torch.equal(kept, dropped)
