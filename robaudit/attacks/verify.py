"""Independent verification of adversarial candidates, and a model wrapper that counts passes.

Verification never trusts an attack's success flag: the model is re-run in eval mode on each
candidate, the criterion is checked on its logits, the [0, 1] box and finiteness are checked,
and the distance is recomputed from x_adv − x. A minimum-norm attack's candidate that fails only
the criterion is offered again with its perturbation grown slightly (:func:`offer_grown`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


class CountingModel(nn.Module):
    """Wraps a model and counts per-image forward and backward passes through it.

    forward: x (N, C, H, W) → the wrapped model's logits (N, K). Each call adds N forward
    passes; a gradient flowing back through the output adds N backward passes (a tensor hook,
    so it counts both ``.backward()`` and ``torch.autograd.grad``, as foolbox uses).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.forward_passes = 0
        self.backward_passes = 0
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        n = int(x.shape[0])
        self.forward_passes += n
        out: Tensor = self.model(x)
        if out.requires_grad:
            out.register_hook(self._count_backward(n))
        return out

    def _count_backward(self, n: int) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            self.backward_passes += n

        return hook

    def train(self, mode: bool = True) -> CountingModel:
        """Always eval: audits are defined on the deployed model."""
        return super().train(False)

    def counts(self) -> tuple[int, int]:
        return self.forward_passes, self.backward_passes


def distances(x: Tensor, x_adv: Tensor, norm: str) -> Tensor:
    """Perturbation sizes (N,) of x_adv − x, both (N, C, H, W): L∞ = max |d|, L2 = sqrt(Σ d²)."""
    d = (x_adv - x).flatten(1).double()
    if norm == "linf":
        return d.abs().amax(dim=1) if d.shape[1] else torch.zeros(len(d), dtype=d.dtype)
    return d.pow(2).sum(dim=1).sqrt()


def criterion_met(logits: Tensor, labels: Tensor, targets: Tensor | None) -> Tensor:
    """(N,) bool: top-1 is the target (targeted) or is not the true label (untargeted)."""
    top1 = logits.argmax(dim=1)
    return top1 == targets if targets is not None else top1 != labels


@dataclass
class Verdict:
    """Verification of N candidates: ``ok`` (N,) bool, ``size`` (N,) float64 (inf where not ok)
    and which checks failed, each (N,) bool."""

    ok: Tensor
    size: Tensor
    not_adversarial: Tensor
    out_of_box: Tensor
    non_finite: Tensor


@torch.no_grad()
def verify(
    model: nn.Module,
    x: Tensor,
    x_adv: Tensor,
    labels: Tensor,
    targets: Tensor | None,
    norm: str,
) -> Verdict:
    """Verify candidates x_adv (N, C, H, W) for clean images x against the criterion.

    A candidate is accepted when it is finite, inside [0, 1] (no tolerance), and the model,
    re-run in eval mode, gives finite logits that meet the criterion on it. Its size is
    recomputed from x_adv − x.
    """
    model.eval()
    finite = torch.isfinite(x_adv).flatten(1).all(dim=1)
    safe = torch.where(torch.isfinite(x_adv), x_adv, x)
    in_box = ((safe >= 0) & (safe <= 1)).flatten(1).all(dim=1)
    logits = model(safe).float()
    # NaN logits meet no criterion (argmax would pick the NaN class and call it adversarial).
    adversarial = criterion_met(logits, labels, targets) & torch.isfinite(logits).all(dim=1)
    ok = finite & in_box & adversarial
    size = distances(x, safe, norm)
    size = torch.where(ok, size, torch.full_like(size, float("inf")))
    return Verdict(ok, size, ~adversarial, ~in_box, ~finite)


def worst_size(x: Tensor, norm: str) -> Tensor:
    """The largest perturbation the [0, 1] box allows per image (N,) float64 (no image is
    farther than this from any point of the box)."""
    far = torch.maximum(x, 1 - x).flatten(1).double()
    return far.amax(dim=1) if norm == "linf" else far.pow(2).sum(dim=1).sqrt()


GROWTHS = (1e-5, 1e-4, 1e-3, 1e-2)
"""Relative growths of a rejected candidate's perturbation, tried in turn by :func:`offer_grown`."""


def offer_grown(offer: Callable[[Tensor, Tensor], Verdict], x: Tensor, x_adv: Tensor,
                verdict: Verdict) -> Tensor:
    """Offer again each candidate of x_adv (N, C, H, W) that ``verdict`` found not adversarial
    (but moved from x, finite and in the box), its perturbation grown by each of GROWTHS in turn
    (clipped to the box) until one verifies: a minimum-norm attack ends a rounding error from the
    decision boundary of the model it ran on (BatchNorm folded, other batches), which the model
    that verifies can place on the clean side. ``offer(rows, candidates)`` verifies and keeps
    candidates for the rows (M,) of x. Returns (N,) bool: where a grown candidate verified."""
    moved = (x_adv != x).flatten(1).any(dim=1)
    retry = moved & verdict.not_adversarial & ~verdict.out_of_box & ~verdict.non_finite
    rows = torch.nonzero(retry).flatten()
    fixed = torch.zeros_like(moved)
    for growth in GROWTHS:
        if len(rows) == 0:
            break
        ok = offer(rows, (x[rows] + (x_adv[rows] - x[rows]) * (1 + growth)).clamp(0, 1)).ok
        fixed[rows[ok]] = True
        rows = rows[~ok]
    return fixed
