"""Sanity checks that flag a model whose minimal perturbations should not be trusted.

After Carlini et al. 2019 ("On evaluating adversarial robustness") and AutoAttack's checks:
an unbounded attack reaches 100 %, success grows with ε, iterative attacks beat single-step
ones, the model is deterministic, and its input gradients are finite and non-zero. A failed
check usually means gradient masking or a stochastic defence, so sizes would be overestimated.
"""

from __future__ import annotations

from typing import Any

import eagerpy as ep
import foolbox as fb
import torch
from foolbox.attacks.base import FixedEpsilonAttack
from torch import Tensor, nn

from robaudit.attacks.fb_attacks import pgd_attack, single_step_attack
from robaudit.attacks.search import seeded
from robaudit.attacks.verify import verify

FLAGS = (
    "unbounded_success_below_100",
    "success_not_monotone",
    "single_step_beats_iterative",
    "stochastic_outputs",
    "bad_gradients",
)
EPS_FACTORS = (0.5, 1.0, 2.0, 4.0)
"""The ε grid of the monotonicity and single-step checks, as multiples of the median size."""


def check_determinism(model: nn.Module, x: Tensor) -> tuple[bool, float]:
    """Same input twice → same logits? Returns (stochastic, max |Δ logits|) for x (N, C, H, W)."""
    with torch.no_grad():
        a, b = model(x).double(), model(x).double()
    diff = float((a - b).abs().max()) if len(x) else 0.0
    scale = float(a.abs().max()) if len(x) else 1.0
    return diff > 1e-5 * max(1.0, scale), diff


def check_gradients(model: nn.Module, x: Tensor, classes: Tensor) -> tuple[bool, dict[str, float]]:
    """Cross-entropy input gradients for (x, classes): flag if any is non-finite or all zero."""
    xg = x.clone().requires_grad_(True)
    with torch.enable_grad():
        loss = nn.functional.cross_entropy(model(xg).float(), classes, reduction="sum")
        (grad,) = torch.autograd.grad(loss, xg)
    flat = grad.flatten(1)
    non_finite = float((~torch.isfinite(flat)).any(dim=1).float().mean()) if len(x) else 0.0
    zero = float((flat == 0).all(dim=1).float().mean()) if len(x) else 0.0
    return non_finite > 0 or zero > 0, {"non_finite_fraction": non_finite, "zero_fraction": zero}


def _success_rates(
    model: nn.Module,
    attack: FixedEpsilonAttack,
    x: Tensor,
    labels: Tensor,
    targets: Tensor | None,
    grid: list[float],
    norm: str,
    generator: torch.Generator,
    max_rows: int,
) -> list[float]:
    """Verified success rate of a fixed-ε attack on x (N, C, H, W) at each ε of ``grid``.

    Several ε run as one batch of stacked copies of x (one ε per row; the attack's rows are
    independent), at most ``max_rows`` rows per batch: a small batch costs a pass nearly as
    much as a full one."""
    if len(x) == 0:
        return [0.0] * len(grid)
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=x.device)
    per_batch = max(1, max_rows // len(x))
    rates: list[float] = []
    for first in range(0, len(grid), per_batch):
        group = grid[first : first + per_batch]
        k = len(group)
        eps = torch.tensor(group, device=x.device).repeat_interleave(len(x))  # (k·N,)
        xs, ys = torch.cat([x] * k), labels.repeat(k)
        ts = None if targets is None else targets.repeat(k)
        crit = fb.criteria.Misclassification(ys) if ts is None else fb.criteria.TargetedMisclassification(ts)
        with seeded(generator, x.device):
            x_adv = attack.run(fmodel, xs, crit, epsilon=ep.astensor(eps.view(-1, 1, 1, 1)))  # type: ignore[arg-type]
        verdict = verify(model, xs, x_adv.detach(), ys, ts, norm)
        # A point beyond ε (numerical slack of the attack) does not count as a success at ε.
        success = verdict.ok & (verdict.size <= eps.double() * (1 + 1e-4))
        rates += success.view(k, len(x)).float().mean(dim=1).tolist()
    return rates


def check_eps_curves(
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    targets: Tensor | None,
    norm: str,
    median_size: float,
    pgd_steps: int,
    generator: torch.Generator,
    max_rows: int,
) -> dict[str, Any]:
    """PGD and single-step (FGSM/FGM) success on an ε grid around the median minimal size,
    in model batches of at most ``max_rows`` images. Returns the curves and two flags.
    (Fixed-ε PGD with few steps is weak at very large ε, so the unbounded check uses the
    minimum-norm search's own success rate instead.)"""
    if median_size > 0 and median_size < float("inf"):
        grid = [median_size * f for f in EPS_FACTORS]
    else:
        grid = [f * (8 / 255 if norm == "linf" else 0.5) for f in EPS_FACTORS]
    pgd = pgd_attack(norm, max(10, pgd_steps), random_start=False)
    # Single-step = one PGD step of size ε from x, i.e. FGSM/FGM; foolbox's own FGM classes
    # refuse targeted criteria, so the per-image PGD with steps=1 stands in for them.
    fgm = single_step_attack(norm)
    args = (x, labels, targets, grid, norm, generator, max_rows)
    pgd_curve = _success_rates(model, pgd, *args)
    fgm_curve = _success_rates(model, fgm, *args)
    tol = 1.0 / max(1, len(x))  # one image of slack: PGD is a heuristic at any single ε
    monotone = all(b >= a - tol - 1e-9 for a, b in zip(pgd_curve, pgd_curve[1:], strict=False))
    single = any(f > p + tol + 1e-9 for f, p in zip(fgm_curve, pgd_curve, strict=True))
    return {
        "eps": grid,
        "pgd_success": pgd_curve,
        "single_step_success": fgm_curve,
        "success_not_monotone": not monotone,
        "single_step_beats_iterative": single,
    }


def run_sanity(
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    targets: Tensor | None,
    norm: str,
    median_size: float,
    pgd_steps: int,
    generator: torch.Generator,
    max_rows: int,
) -> dict[str, Any]:
    """All per-batch checks on x (N, C, H, W) in [0, 1], in model batches of at most
    ``max_rows`` images; returns flags (bool) and details.

    ``unbounded_success_below_100`` is set by the caller from the whole search's success rate.
    """
    classes = labels if targets is None else targets
    stochastic, diff = check_determinism(model, x)
    bad_grad, grad_info = check_gradients(model, x, classes)
    curves = check_eps_curves(model, x, labels, targets, norm, median_size, pgd_steps, generator,
                              max_rows)
    flags = {
        "success_not_monotone": curves.pop("success_not_monotone"),
        "single_step_beats_iterative": curves.pop("single_step_beats_iterative"),
        "stochastic_outputs": stochastic,
        "bad_gradients": bad_grad,
    }
    details = {"n_images": len(x), "max_logit_difference": diff, **grad_info, **curves}
    return {"flags": flags, "details": details}
