"""The batched L2 distance step of Brendel–Bethge against foolbox's own per-image solver."""

from __future__ import annotations

import torch
from foolbox.attacks.brendel_bethge import L2Optimizer

from robaudit.attacks.bb_l2 import l2_distance_step


def test_l2_step_matches_foolbox_row_by_row_when_rows_need_different_rounds() -> None:
    g = torch.Generator().manual_seed(0)
    n, d = 16, 48
    x0 = torch.rand(n, d, generator=g, dtype=torch.float64)
    x = (x0 + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)).clamp(0, 1)
    b = torch.randn(n, d, generator=g, dtype=torch.float64)
    c = 0.2 * torch.randn(n, generator=g, dtype=torch.float64)
    r = 0.5 + torch.rand(n, generator=g, dtype=torch.float64)
    solver = L2Optimizer()  # foolbox 3.3.4's numba active-set solver, one image at a time
    want = torch.stack([torch.from_numpy(solver.optimize_distance_s_t_boundary_and_trustregion(
        x0[i].numpy(), x[i].numpy(), b[i].numpy(), 0.0, 1.0, float(c[i]), float(r[i]))) for i in range(n)])
    got = l2_distance_step(x0, x, b, c, r, (0.0, 1.0))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    clamped = (((x + got) <= 0) | ((x + got) >= 1)).sum(1)
    assert len(set(clamped.tolist())) >= 3  # rows left the active-set rounds at different times
