"""Batched monotone root finding against closed-form roots (cube roots, piecewise-linear kinks)."""

from __future__ import annotations

import torch
from torch import Tensor

from robaudit.attacks.roots import clamped_sum_root, drop_solved, gather_solved, monotone_root


def test_each_row_reaches_its_own_cube_root_whatever_the_others_take() -> None:
    target = torch.tensor([1e-6, 0.5, 8.0, 27.0, 1e3, -64.0, 3.375, 0.0], dtype=torch.float64)
    calls: list[int] = []

    def cube(v: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        calls.append(len(v))
        return v**3, 3 * v**2

    lo, hi = torch.full_like(target, -20.0), torch.full_like(target, 20.0)
    root = monotone_root(cube, target, 1e-12 * target.abs() + 1e-15, lo, hi, torch.ones_like(target))
    torch.testing.assert_close(root, torch.sign(target) * target.abs() ** (1 / 3), rtol=1e-6, atol=1e-5)
    assert min(calls) < len(target)  # solved rows left the work


def test_roots_outside_the_bracket_give_its_nearer_end_and_kinks_are_exact() -> None:
    target = torch.tensor([-5.0, 0.25, 1.5, 9.0])
    kinked = torch.tensor([0.0, 1.0, 1.0, 1.0])  # f(v) = v below 1, 1 + 2 (v − 1) above

    def piecewise(v: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        k = kinked if rows is None else kinked[rows]
        above = (v > 1) & (k > 0)
        return torch.where(above, 1 + 2 * (v - 1), v), torch.where(above, 2.0, 1.0)

    root = monotone_root(piecewise, target, torch.full_like(target, 1e-6), torch.zeros(4), torch.full((4,), 3.0),
                         torch.full((4,), 0.5))
    torch.testing.assert_close(root, torch.tensor([0.0, 0.25, 1.25, 3.0]))


def test_clamped_sum_root_is_exact_on_hand_made_pieces() -> None:
    # g(v) = 1·(clamp(v, 0, 2) − 0) + 3·(clamp(v, 1, 2) − 1) + 0·(…): slope 1 on [0, 1], 4 on [1, 2], flat after.
    start = torch.tensor([[0.0, 1.0, -5.0]], dtype=torch.float64).repeat(6, 1)
    end = torch.tensor([[2.0, 2.0, 5.0]], dtype=torch.float64).repeat(6, 1)
    weight = torch.tensor([[1.0, 3.0, 0.0]], dtype=torch.float64).repeat(6, 1)
    target = torch.tensor([0.5, 1.0, 3.0, 5.0, 7.0, -1.0], dtype=torch.float64)
    root = clamped_sum_root(start, end, weight, target)
    # 0.5 → 0.5; 1 → 1 (the kink); 3 → 1 + 2/4; 5 → 2 (g's maximum, reached at 2);
    # 7 (out of reach) → the largest breakpoint 5; −1 (below g's minimum) → the smallest, −5.
    torch.testing.assert_close(root, torch.tensor([0.5, 1.0, 1.5, 2.0, 5.0, -5.0], dtype=torch.float64))


def test_clamped_sum_root_solves_random_rows() -> None:
    g = torch.Generator().manual_seed(0)
    start = torch.randn(64, 300, generator=g, dtype=torch.float64)
    end = start + torch.rand(64, 300, generator=g, dtype=torch.float64)
    weight = torch.rand(64, 300, generator=g, dtype=torch.float64)
    weight[:, :30] = 0  # pieces that never move
    total = (weight * (end - start)).sum(1)
    target = torch.rand(64, generator=g, dtype=torch.float64) * total
    root = clamped_sum_root(start, end, weight, target)
    value = (weight * (torch.minimum(torch.maximum(root[:, None], start), end) - start)).sum(1)
    torch.testing.assert_close(value, target, rtol=0, atol=1e-12)


def test_a_root_near_zero_in_a_bracket_of_a_million_takes_a_few_evaluations() -> None:
    # Lagrange multipliers of clamped sums: steep near the root, almost flat beyond ±1e-5, bracket
    # ±1e6. f(v) = clamp(v, ±1e-5) + 1e-9·v; roots: t / (1 + 1e-9) inside, (t − 1e-5) / 1e-9 beyond.
    calls: list[int] = []

    def flat_tails(v: Tensor, rows: Tensor | None) -> tuple[Tensor, Tensor]:
        calls.append(len(v))
        return v.clamp(-1e-5, 1e-5) + 1e-9 * v, torch.where(v.abs() < 1e-5, 1 + 1e-9, 1e-9)

    target = torch.tensor([4e-6, -7e-6, 3e-5, 1e-12], dtype=torch.float64)
    wide = torch.full_like(target, 1e6)
    root = monotone_root(flat_tails, target, 1e-4 * target.abs(), -wide, wide, torch.full_like(target, -124.0))
    exact = torch.tensor([4e-6 / (1 + 1e-9), -7e-6 / (1 + 1e-9), 2e4, 1e-12 / (1 + 1e-9)], dtype=torch.float64)
    torch.testing.assert_close(root, exact, rtol=1e-4, atol=0)
    assert len(calls) <= 10  # halving v itself from the far start took 32


def test_solved_rows_leave_once_their_share_is_reached_and_come_back_in_place() -> None:
    result = torch.tensor([10.0, 11.0, 12.0, 13.0])
    state = (torch.tensor([0.0, 1.0, 2.0, 3.0]),)
    one_done = torch.tensor([False, True, False, False])
    rows, out, kept = drop_solved(one_done, None, result, result, state)  # default: half the rows
    assert rows is None and kept[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    rows, out, kept = drop_solved(one_done, None, result, result, state, share=0.0)
    assert rows is not None and rows.tolist() == [0, 2, 3] and kept[0].tolist() == [0.0, 2.0, 3.0]
    assert drop_solved(torch.zeros(4, dtype=torch.bool), None, result, result, state, share=0.0)[0] is None
    # The working rows' later results land in their own places of the full result.
    assert gather_solved(rows, out, torch.tensor([20.0, 22.0, 23.0])).tolist() == [20.0, 11.0, 22.0, 23.0]
