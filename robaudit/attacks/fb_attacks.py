"""Small, documented adjustments to foolbox 3.3.4 attacks used by the minimal-perturbation search.

Each class below changes only what foolbox cannot do as shipped; everything else (the update
rules, step-size schedules, boundary searches) is foolbox's own code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import eagerpy as ep
import foolbox as fb
import torch
from foolbox.attacks.base import FixedEpsilonAttack, MinimizationAttack, get_criterion, verify_input_bounds
from foolbox.attacks.gradient_descent_base import BaseGradientDescent
from foolbox.criteria import Misclassification
from foolbox.devutils import atleast_kd, flatten
from torch import Tensor

from robaudit.attacks.bb_torch import TorchBrendelBethge
from robaudit.attacks.starts import logit_gap


class FixedL2FMN(fb.attacks.L2FMNAttack):
    """L2 FMN with the projection of Pintor et al. 2021 (δ ← δ · min(1, ε / ‖δ‖₂)).

    foolbox 3.3.4's ``L2FMNAttack.project`` computes ``min(1, norms / norms)`` = 1, so it never
    projects onto the ε-ball and the adaptive norm constraint has no effect (found by reading
    the source; the L∞ variant is correct).
    """

    def project(self, x: ep.Tensor, x0: ep.Tensor, epsilon: ep.Tensor) -> ep.Tensor:
        delta = x - x0
        norms = ep.maximum(flatten(delta).norms.l2(axis=-1), 1e-12)
        factor = atleast_kd(ep.minimum(1, epsilon / norms), x.ndim)
        return x0 + delta * factor


class StopAtFirstAdversarial(BaseGradientDescent):
    """foolbox's PGD loop (its random start, ``normalize``, step rel_stepsize · ε, ``project``,
    clip) where an image leaves the batch at the first iterate the criterion accepts, judged on
    the logits the gradient pass computes anyway, and that iterate is returned for it.

    foolbox runs every image for all ``steps`` and returns the last iterate; in a bisection over
    ε about half the attempts succeed, most well before the last step, so those passes are
    saved, and the returned point can be smaller than ε. From half the steps on, an image also
    leaves once its logit margin (> 0 while not adversarial) could not reach 0 in the steps left
    even at GIVE_UP_FACTOR × its fastest progress per step over the last GIVE_UP_WINDOW steps:
    progress slows once the iterate lies on the ε-ball's surface, and such an attempt fails.
    An image that leaves so, or never succeeds, ends at its last iterate, as in foolbox.
    ``epsilon``: an eagerpy tensor (N, 1, 1, 1), one ε per image.
    """

    GIVE_UP_WINDOW = 4
    GIVE_UP_FACTOR = 3.0

    def run(self, model: fb.Model, inputs: Any, criterion: Any, *, epsilon: Any, **kwargs: Any) -> Any:
        x0, restore_type = ep.astensor_(inputs)
        criterion_ = get_criterion(criterion)
        targeted = not isinstance(criterion_, Misclassification)
        classes = criterion_.target_classes if targeted else criterion_.labels  # type: ignore[attr-defined]
        verify_input_bounds(x0, model)
        eps = epsilon if isinstance(epsilon, ep.Tensor) else ep.full_like(x0[:, :1, :1, :1], epsilon)
        start = self.get_random_start(x0, eps) if self.random_start else x0  # type: ignore[arg-type]
        x = ep.clip(start, *model.bounds)
        active = ep.arange(x0, len(x0))
        margins = torch.full((self.steps, len(x0)), float("nan"), device=x0.raw.device)  # (steps, N)
        for k in range(self.steps):
            xa, cls, eps_a = x[active], classes[active], eps[active]

            def loss_fn(inputs: ep.Tensor) -> tuple[ep.Tensor, ep.Tensor]:
                logits = model(inputs)
                return ep.crossentropy(logits, cls).sum(), logits  # noqa: B023 (called at once)

            _, logits, gradients = ep.value_aux_and_grad(loss_fn, xa)
            top1 = logits.argmax(axis=-1)
            go_on = (top1 != cls) if targeted else (top1 == cls)
            step = self.normalize(gradients, x=xa, bounds=model.bounds) * (self.rel_stepsize * eps_a)
            # The subclasses' project takes ε per image (foolbox's signature says float).
            moved = ep.clip(self.project(xa + (-step if targeted else step), x0[active], eps_a),  # type: ignore[arg-type]
                            *model.bounds)
            x = ep.index_update(x, active, ep.where(atleast_kd(go_on, x.ndim), moved, xa))
            margins[k, active.raw] = logit_gap(logits.raw.detach(), cls.raw, cls.raw if targeted else None)
            stays = go_on.raw & ~self._hopeless(margins[:, active.raw], k)
            active = active[ep.astensor(stays)]
            if len(active) == 0:
                break
        return restore_type(x)

    def _hopeless(self, margins: Tensor, k: int) -> Tensor:
        """(n,) bool: images whose margin after step k cannot reach 0 by the last step even at
        GIVE_UP_FACTOR × their fastest recent progress; margins (steps, n) per step so far."""
        if k < max(self.steps // 2, self.GIVE_UP_WINDOW):
            return torch.zeros(margins.shape[1], dtype=torch.bool, device=margins.device)
        recent = margins[k - self.GIVE_UP_WINDOW : k + 1]
        progress = (recent[:-1] - recent[1:]).amax(dim=0).clamp(min=0)
        return margins[k] > self.GIVE_UP_FACTOR * progress * (self.steps - 1 - k)


class LinfPerImagePGD(StopAtFirstAdversarial, fb.attacks.LinfProjectedGradientDescentAttack):
    """foolbox's L∞ PGD with one ε per image: ``epsilon`` is an eagerpy tensor of shape
    (N, 1, 1, 1) (foolbox only takes a scalar; a bisection over ε needs a value per image).
    The step size rel_stepsize · ε then also becomes per image."""

    def get_random_start(self, x0: ep.Tensor, epsilon: Any) -> ep.Tensor:
        return x0 + ep.uniform(x0, x0.shape, -1.0, 1.0) * epsilon

    def project(self, x: ep.Tensor, x0: ep.Tensor, epsilon: Any) -> ep.Tensor:
        return x0 + ep.minimum(ep.maximum(x - x0, -epsilon), epsilon)


class L2PerImagePGD(StopAtFirstAdversarial, fb.attacks.L2ProjectedGradientDescentAttack):
    """foolbox's L2 PGD with one ε per image (``epsilon`` an eagerpy tensor (N, 1, 1, 1))."""

    def project(self, x: ep.Tensor, x0: ep.Tensor, epsilon: Any) -> ep.Tensor:
        delta = x - x0
        norms = atleast_kd(ep.maximum(flatten(delta).norms.l2(axis=-1), 1e-12), x.ndim)
        return x0 + delta * ep.minimum(1, epsilon / norms)


def linf_fmn_stepsize(dims: int) -> float:
    """FMN's initial step for L∞ on inputs of ``dims`` = C·H·W values.

    FMN steps along the L2-normalised gradient, so one step moves a pixel by about
    stepsize / √dims. Measured on the embedded CNN (32×32×3, targeted, 48 images): 0.3 gave a
    median size 27 % smaller than foolbox's default 1.0 at 60 steps and 3× smaller on a hard
    image at 200 steps; 1.0 also failed outright on some images. The same per-pixel step is kept
    for other sizes (√(dims / 3072) scaling), so 224×224 images get ≈ 2.1.
    """
    return 0.3 * math.sqrt(dims / 3072)


MIN_NORM_ATTACKS: dict[tuple[str, str], Callable[[int, int, int], MinimizationAttack]] = {
    ("fmn", "linf"): lambda steps, dims, region: fb.attacks.LInfFMNAttack(
        steps=steps, max_stepsize=linf_fmn_stepsize(dims)),
    ("fmn", "l2"): lambda steps, dims, region: FixedL2FMN(steps=steps),
    ("ddn", "l2"): lambda steps, dims, region: fb.attacks.DDNAttack(steps=steps),
    # foolbox's algorithm, batched in torch: foolbox's numba solver compiles ~24 s per process.
    ("brendel_bethge", "linf"): lambda steps, dims, region: TorchBrendelBethge("linf", steps=steps, region_rows=region),
    ("brendel_bethge", "l2"): lambda steps, dims, region: TorchBrendelBethge("l2", steps=steps, region_rows=region),
}
"""The minimum-norm attack (foolbox's interface) of each (attack, norm) the search supports, built
from (steps, dims = C·H·W of the inputs, region = the images that scale a trust region: the
protocol's ``region_images``); the norms agree with
``protocols.ATTACK_NORMS``."""


def min_norm_attack(name: str, norm: str, steps: int, dims: int, region: int) -> MinimizationAttack:
    """A foolbox minimum-norm attack by name and norm (see :data:`MIN_NORM_ATTACKS`) for images
    of ``dims`` values, its trust region (where it has one) scaled as for ``region`` images."""
    try:
        factory = MIN_NORM_ATTACKS[(name, norm)]
    except KeyError:
        raise ValueError(f"no minimum-norm attack {name!r} for norm {norm!r}") from None
    return factory(steps, dims, region)


def pgd_attack(norm: str, steps: int, random_start: bool) -> FixedEpsilonAttack:
    """Per-image-ε PGD whose iterates can travel 2.5 ε in total (Madry et al.'s budget)."""
    cls = LinfPerImagePGD if norm == "linf" else L2PerImagePGD
    return cls(rel_stepsize=2.5 / steps, steps=steps, random_start=random_start)


def single_step_attack(norm: str) -> FixedEpsilonAttack:
    """FGSM (L∞) / FGM (L2): one step of size ε from x, per-image ε, targeted or not."""
    cls = LinfPerImagePGD if norm == "linf" else L2PerImagePGD
    return cls(rel_stepsize=1.0, steps=1, random_start=False)
