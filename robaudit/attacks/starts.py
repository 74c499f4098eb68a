"""A fallback starting point for images whose start class has no exemplar in the data.

The search starts every image from a blend towards an image the model assigns to the target
class; when the model never predicts that class on the data there is none. Then an unbounded
gradient search walks the image, inside the [0, 1] box and with no ε bound, until the model
meets the criterion; the search blends towards that point instead.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robaudit.attacks.verify import criterion_met

REACH_STEPS = 250
"""Sign-gradient steps of the fallback walk; with REACH_STEP_SIZE they can cross the box twice."""
REACH_STEP_SIZE = 2 / 255


def logit_gap(logits: Tensor, labels: Tensor, targets: Tensor | None) -> Tensor:
    """(N,) negative exactly where the criterion is met (ties aside): the best other logit minus
    the target's (targeted), or the label's logit minus the best other (untargeted)."""
    classes = labels if targets is None else targets
    rows = torch.arange(len(logits), device=logits.device)
    others = logits.detach().clone()
    others[rows, classes] = -torch.inf
    best_other = logits[rows, others.argmax(1)]
    own = logits[rows, classes]
    return own - best_other if targets is None else best_other - own


def reach_criterion(model: nn.Module, x: Tensor, labels: Tensor, targets: Tensor | None,
                    steps: int = REACH_STEPS, step_size: float = REACH_STEP_SIZE) -> tuple[Tensor, Tensor]:
    """Walk each image x (N, C, H, W) down the sign of the gradient of :func:`logit_gap`, clipped
    to [0, 1] but otherwise unbounded, until the model meets the criterion (top-1 = target, or ≠
    label). Returns the points (N, C, H, W) and where the criterion was met (N,) bool."""
    point = x.detach().clone()
    with torch.no_grad():
        met = criterion_met(model(point), labels, targets)
    for _ in range(steps):
        active = torch.nonzero(~met).flatten()
        if len(active) == 0:
            break
        moving = point[active].requires_grad_(True)
        tgt = None if targets is None else targets[active]
        gap = logit_gap(model(moving), labels[active], tgt)
        (grad,) = torch.autograd.grad(gap.sum(), moving)
        point[active] = (moving.detach() - step_size * grad.sign()).clamp(0, 1)
        with torch.no_grad():
            met[active] = criterion_met(model(point[active]), labels[active], tgt)
    return point, met
