"""PGD that stops each image at its first adversarial iterate (robaudit.attacks.fb_attacks), against
foolbox's own PGD (the reference) and the analytic path of L∞ PGD on a linear model."""

from __future__ import annotations

import dataclasses
from typing import Any

import eagerpy as ep
import foolbox as fb
import pytest
import torch
from torch import nn

from robaudit.attacks.fb_attacks import L2PerImagePGD, LinfPerImagePGD, StopAtFirstAdversarial, pgd_attack
from robaudit.attacks.protocols import PROTOCOLS
from robaudit.attacks.search import MinimalSearch
from robaudit.attacks.verify import CountingModel

STEPS = 20


class FoolboxLoop:
    """foolbox's own BaseGradientDescent.run (every image all steps, last iterate returned), with
    the per-image ε of robaudit's subclass: the reference the early stop must agree with."""

    def __init__(self, cls: Any, steps: int = STEPS) -> None:
        reference = type("Reference", (cls.__mro__[2],), {"get_random_start": cls.get_random_start,
                                                         "project": cls.project})
        self.attack = reference(rel_stepsize=2.5 / STEPS, steps=steps, random_start=False)

    def run(self, *args: object, **kwargs: object) -> torch.Tensor:
        out: torch.Tensor = self.attack.run(*args, **kwargs)
        return out


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@pytest.mark.parametrize(("cls", "scale"), [(LinfPerImagePGD, 0.03), (L2PerImagePGD, 1.0)])
@pytest.mark.parametrize("targeted", [False, True])
def test_early_stop_succeeds_wherever_foolbox_does_and_agrees_elsewhere(
    cls: Any, scale: float, targeted: bool
) -> None:
    model = small_cnn()
    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    x = torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    labels = model(x).argmax(1)
    classes = (labels + 1) % 10 if targeted else labels
    criterion = fb.criteria.TargetedMisclassification(classes) if targeted else fb.criteria.Misclassification(labels)
    eps = ep.astensor(torch.linspace(0.05, 2.0, 32).view(-1, 1, 1, 1) * scale)

    def met(x_adv: torch.Tensor) -> torch.Tensor:
        top1 = model(x_adv).argmax(1)
        return top1 == classes if targeted else top1 != labels

    ours = cls(rel_stepsize=2.5 / STEPS, steps=STEPS, random_start=False).run(fmodel, x, criterion, epsilon=eps)
    path = torch.stack([FoolboxLoop(cls, k).run(fmodel, x, criterion, epsilon=eps) for k in range(STEPS + 1)])
    ok, ok_ref = met(ours), met(path[-1])
    assert 0 < int(ok_ref.sum()) < len(x)  # the ε range spans failures and successes
    assert bool((ok | ~ok_ref).all())  # wherever foolbox's last iterate succeeds, an earlier one did
    # Never accepted (given up or out of steps): an iterate of foolbox's very path.
    on_path = ((path - ours).flatten(2).abs().amax(dim=2) < 1e-6).any(dim=0)
    assert bool(on_path[~ok].all())
    norm = "linf" if cls is LinfPerImagePGD else "l2"
    size = (ours - x).flatten(1).abs().amax(1) if norm == "linf" else (ours - x).flatten(1).norm(dim=1)
    assert bool((size <= eps.raw.flatten() * (1 + 1e-5)).all())


def test_linear_model_stops_at_the_analytic_step_with_one_pass_per_iterate() -> None:
    """Two-class linear model, logit margin m(x) = w·(x − ½): L∞ PGD from x moves every pixel by
    s = 2.5 ε / STEPS towards sign(w), so the margin after k steps is m0 + k s ‖w‖₁. Images start
    at x = ½ − a sign(w) with a = (k* − ½) s, so the first adversarial iterate is k*, of L∞ size
    k* s, found after k* + 1 gradient passes (the pass at x_k judges x_k). Where ε stops the path
    first (after 8 steps the iterate sits on the ε-ball's corner and the margin stays), the
    attack gives up once its last GIVE_UP_WINDOW steps made no progress: after pass 8 + window + 1."""
    dims = 3 * 4 * 4
    w = torch.where(torch.arange(dims) % 3 == 0, 1.0, -0.5)
    eps = torch.tensor([0.02, 0.04, 0.04, 0.08, 0.08, 0.01])
    k_star = torch.tensor([3, 1, 7, 8, 9, 30])
    s = 2.5 * eps / STEPS  # ε is reached after STEPS / 2.5 = 8 steps: k* = 9 and 30 never succeed
    x = (0.5 - ((k_star - 0.5) * s).view(-1, 1) * w.sign()).view(-1, 3, 4, 4)
    model = CountingModel(_TwoClassLinear(w))
    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    attack = pgd_attack("linf", STEPS, random_start=False)
    x_adv = attack.run(fmodel, x, fb.criteria.Misclassification(torch.zeros(len(x), dtype=torch.long)),
                       epsilon=ep.astensor(eps.view(-1, 1, 1, 1)))  # type: ignore[arg-type]
    size = (x_adv - x).flatten(1).abs().amax(1)
    within = k_star * s <= eps * (1 + 1e-6)
    torch.testing.assert_close(size[within], (k_star * s)[within], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(size[~within], eps[~within], rtol=1e-4, atol=1e-6)  # foolbox's last iterate
    give_up = 8 + StopAtFirstAdversarial.GIVE_UP_WINDOW + 1
    assert give_up < STEPS
    assert model.backward_passes == int(torch.where(within, k_star + 1, give_up).sum())


class _TwoClassLinear(nn.Module):
    """x (N, C, H, W) → logits (N, 2) = [0, w·(x − ½)]."""

    w: torch.Tensor

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("w", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x.flatten(1) - 0.5) @ self.w
        return torch.stack([torch.zeros_like(score), score], dim=1)


@pytest.mark.parametrize("near_first", [True, False])
def test_bisection_near_first_tries_once_below_a_minimal_start_and_bisects_below_a_poor_one(
    near_first: bool,
) -> None:
    """Two-class linear model with images at L∞ distance a from the boundary (the analytic minimum,
    a = −margin / ‖w‖₁). A start blended towards x + c·sign(w) is minimal; one towards x + c·sign(w)
    on the w = 1 pixels only (half of ‖w‖₁) is 2a. L∞ PGD below a fails and gives up after
    8 + GIVE_UP_WINDOW + 1 passes (test above): near first, a minimal start costs that one
    attempt, the plain bisection six; below a poor start both bisect to within 2⁻⁴ of a."""
    w = torch.where(torch.arange(48) % 3 == 0, 1.0, -0.5)
    a = torch.tensor([0.02, 0.03, 0.05, 0.04])
    x = (0.5 - a.view(-1, 1) * w.sign()).view(-1, 3, 4, 4)
    labels = torch.zeros(len(x), dtype=torch.long)
    protocol = dataclasses.replace(PROTOCOLS["standard"], attacks=("start", "pgd_bisection"), restarts=1,
                                   bisection_steps=6, pgd_near_first=near_first)
    give_up = 8 + StopAtFirstAdversarial.GIVE_UP_WINDOW + 1
    for direction, attempts in ((w.sign(), 1 if near_first else 6), (torch.where(w > 0, 1.0, 0.0), None)):
        model = CountingModel(_TwoClassLinear(w))
        exemplars = (x + 0.2 * direction.view(1, 3, 4, 4)).clamp(0, 1)
        result = MinimalSearch(model, protocol, "linf", torch.Generator().manual_seed(0), torch.device("cpu")).run(
            x, labels, None, starts=(exemplars, torch.ones(len(x), dtype=torch.bool)))
        assert bool((result.size >= a.double() * (1 - 1e-5)).all())  # verified: never below the minimum
        if attempts is not None:  # the blend's t within 2⁻¹⁰: the start is a + 0.2 · 2⁻¹⁰ at most
            assert bool((result.size <= a.double() + 0.2 * 2**-10 + 1e-7).all())  # (63/64 of it < a)
            assert model.backward_passes == len(x) * attempts * give_up
        else:
            assert bool((result.size <= a.double() * (1 + 2**-4)).all())
