"""Brendel–Bethge minimum-norm attack (L∞, L2) for a whole batch at once, in torch.

The algorithm is foolbox 3.3.4's ``BrendelBethgeAttack.run`` (Brendel et al. 2019): a binary
search from a verified starting point to the decision boundary, then ``steps`` trust-region steps
that follow the boundary towards the clean image, using the gradient of the logit difference as
the boundary's normal (averaged with momentum), an overshoot of 10 %, and a trust region that
halves ``lr_num_decay`` times. What differs is where the per-step subproblem is solved:
:mod:`robaudit.attacks.bb_subproblem` solves it for all images at once on the inputs' device,
with nothing to compile (foolbox's numba solver runs per image on the CPU and compiles ~24 s in
every process). Starting points that are not adversarial are left alone (foolbox asserts).
"""

from __future__ import annotations

from typing import Any

import eagerpy as ep
import foolbox as fb
import torch
from foolbox.attacks.base import MinimizationAttack
from torch import Tensor

from robaudit.attacks.bb_step import trust_region_step
from robaudit.attacks.starts import logit_gap


def _norms(d: Tensor, norm: str) -> Tensor:
    flat = d.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


class TorchBrendelBethge(MinimizationAttack):
    """Batched Brendel–Bethge for ``norm`` 'linf' or 'l2' with foolbox's defaults; ``run`` takes
    what foolbox's takes (a foolbox PyTorch model, inputs (N, C, H, W), a (Targeted)
    Misclassification criterion, ``starting_points`` (N, C, H, W), required).

    ``region_rows``: the image count that scales the trust region (foolbox's: the rows attacked,
    the default). Given, each row's steps are the same whichever other rows run with it.
    """

    uses_rng = False
    """It draws no random numbers: from the same start it takes the same steps."""

    def __init__(self, norm: str, steps: int = 1000, lr: float = 1e-3, lr_decay: float = 0.5,
                 lr_num_decay: int = 20, momentum: float = 0.8, overshoot: float = 1.1,
                 binary_search_steps: int = 10, dtype: torch.dtype = torch.float32,
                 region_rows: int | None = None) -> None:
        if norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
        self.norm = norm
        self.steps, self.lr, self.lr_decay, self.lr_num_decay = steps, lr, lr_decay, lr_num_decay
        self.momentum, self.overshoot, self.binary_search_steps = momentum, overshoot, binary_search_steps
        self.dtype = dtype  # of the subproblem solver; float64 (foolbox's) runs 2–10× slower on CPUs
        self.region_rows = region_rows

    @property
    def distance(self) -> fb.distances.Distance:
        return fb.distances.linf if self.norm == "linf" else fb.distances.l2

    def run(self, model: fb.Model, inputs: Any, criterion: Any, *,
            starting_points: Any = None, early_stop: float | None = None, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(kwargs)}")
        if starting_points is None:
            raise ValueError("TorchBrendelBethge needs starting_points (adversarial inputs)")
        x0_ep, restore_type = ep.astensor_(inputs)
        x0: Tensor = x0_ep.raw
        start: Tensor = ep.astensor(starting_points).raw.to(x0.dtype)
        targeted = isinstance(criterion, fb.criteria.TargetedMisclassification)
        if targeted:
            classes = criterion.target_classes
        elif isinstance(criterion, fb.criteria.Misclassification):
            classes = criterion.labels
        else:
            raise ValueError("unsupported criterion: use Misclassification or TargetedMisclassification")
        self._model, self._targeted = model, targeted
        self._classes: Tensor = ep.astensor(classes).raw
        with torch.no_grad():
            usable = self._logit_diff(start, grad=False)[0] < 0
        best = x0.clone()
        if bool(usable.any()):
            best[usable] = self._attack(x0[usable], start[usable], self._classes[usable])
        return restore_type(ep.astensor(best))

    def _logit_diff(self, x: Tensor, grad: bool) -> tuple[Tensor, Tensor | None]:
        """The logit difference (N,) that is negative exactly where x is adversarial, and its
        gradient (N, C, H, W) with ``grad`` (foolbox's ``loss_fun``)."""
        classes = self._classes
        x = x.detach().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            logits: Tensor = self._model(ep.astensor(x)).raw
            diff = logit_gap(logits, classes, classes if self._targeted else None)
            if not grad:
                return diff.detach(), None
            (gradient,) = torch.autograd.grad(diff.sum(), x)
        return diff.detach(), gradient

    def _blend(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        """foolbox's ``mid_points``: the L2 blend (1 − t) x0 + t x1, or for L∞ x1 − x0 clipped to ±t."""
        t = t.view(-1, *([1] * (x0.dim() - 1)))
        if self.norm == "l2":
            return t * x1 + (1 - t) * x0
        span = float(self._model.bounds[1] - self._model.bounds[0])
        return x0 + torch.minimum(torch.maximum(x1 - x0, -t * span), t * span)

    @torch.no_grad()  # the model's passes enable gradients themselves (_logit_diff); the solver's
    # thousands of small operations per step run about 10 % faster without autograd's bookkeeping
    def _attack(self, x0: Tensor, start: Tensor, classes: Tensor) -> Tensor:
        """The best adversarial point found per image (N, C, H, W), all starts adversarial."""
        self._classes = classes
        n = len(x0)
        lower = torch.zeros(n, dtype=x0.dtype, device=x0.device)
        upper = torch.ones_like(lower)
        for _ in range(self.binary_search_steps):
            mid = (lower + upper) / 2
            adversarial = self._logit_diff(self._blend(x0, start, mid), grad=False)[0] < 0
            lower, upper = torch.where(adversarial, lower, mid), torch.where(adversarial, mid, upper)
        x = self._blend(x0, start, upper)
        best = start.clone()
        flat0 = x0.flatten(1).to(self.dtype)
        lrs = torch.full((n,), self.lr, dtype=self.dtype, device=x0.device)
        interval = max(1, int(self.steps / self.lr_num_decay))
        # foolbox scales the trust region by the number of values in the whole batch (N·D·range).
        low, high = (float(v) for v in self._model.bounds)
        rows = n if self.region_rows is None else self.region_rows
        rate_normalization = rows * x[0].numel() * (high - low)
        boundary = torch.zeros_like(flat0)
        for step in range(1, self.steps + 1):
            diff, gradient = self._logit_diff(x, grad=True)
            assert gradient is not None
            closer = (_norms(x0 - x, self.norm) < _norms(x0 - best, self.norm)) & (diff < 0)
            best[closer] = x[closer]
            g = gradient.flatten(1).to(self.dtype)
            boundary = g if step == 1 else (1 - self.momentum) * g + self.momentum * boundary
            if (step + 1) % interval == 0:
                lrs = lrs * self.lr_decay
            c = torch.where(diff > 0, -self.overshoot * diff, -(2 - self.overshoot) * diff).to(self.dtype)
            delta = trust_region_step(self.norm, flat0, x.flatten(1).to(self.dtype), boundary, c,
                                      lrs * rate_normalization, (low, high))
            # Rounding the step to the inputs' dtype can leave the box by an ulp.
            x = (x + delta.to(x.dtype).view_as(x)).clamp(low, high)
        return best
