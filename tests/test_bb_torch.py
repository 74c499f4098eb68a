"""The batched torch Brendel–Bethge attack and the search's fallback start.

Truths: foolbox 3.3.4's own Brendel–Bethge run from the same starting points (the reference
implementation), the closed-form minimal perturbation of a linear two-class model (|margin| /
‖w_diff‖₁ for L∞, / ‖w_diff‖₂ for L2, away from the box), and a model whose target class no image
of the data reaches but a gradient walk does.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import eagerpy as ep
import foolbox as fb
import pytest
import torch
from torch import Tensor, nn

from robaudit.attacks.bb_torch import TorchBrendelBethge
from robaudit.attacks.protocols import resolve_protocol
from robaudit.attacks.search import MinimalSearch
from robaudit.attacks.verify import criterion_met, distances


def _frozen(net: nn.Module) -> nn.Module:
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def _mlp() -> nn.Module:
    """A small ReLU MLP on 3×8×8 inputs with logits of order 10 (well above float32 noise)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(192, 32), nn.ReLU(), nn.Linear(32, 5))
    with torch.no_grad():
        cast(nn.Linear, net[3]).weight.mul_(20)
    return _frozen(net)


def _linear(scale: float = 20.0) -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(192, 2))
    with torch.no_grad():
        cast(nn.Linear, net[1]).weight.mul_(scale)
    return cast(nn.Sequential, _frozen(net))


def _starts(net: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
    """Adversarial starting points from foolbox's L∞ PGD at ε = 0.3 (all must succeed)."""
    fmodel = fb.PyTorchModel(net, bounds=(0, 1), device=x.device)
    torch.manual_seed(0)
    start = fb.attacks.LinfPGD(steps=50).run(fmodel, x, fb.criteria.Misclassification(labels), epsilon=0.3)
    assert bool(criterion_met(net(start), labels, None).all())
    return start


def _mlp_problem(seed: int, n: int) -> tuple[nn.Module, Tensor, Tensor, Tensor]:
    """The MLP, n images (n, 3, 8, 8) seeded by ``seed`` away from the box's faces, their labels
    and adversarial starting points."""
    net = _mlp()
    torch.manual_seed(seed)
    x = torch.rand(n, 3, 8, 8) * 0.6 + 0.2
    labels = net(x).argmax(1)
    return net, x, labels, _starts(net, x, labels)


def _bb(attack: fb.attacks.base.MinimizationAttack, net: nn.Module, x: Tensor, labels: Tensor,
        start: Tensor) -> Tensor:
    fmodel = fb.PyTorchModel(net, bounds=(0, 1), device=x.device)
    out: Tensor = attack.run(fmodel, x, fb.criteria.Misclassification(labels), starting_points=ep.astensor(start))
    return out


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_matches_foolbox_from_the_same_starts(norm: str, lambda_solver: str) -> None:
    net, x, labels, start = _mlp_problem(seed=2, n=4)
    reference_cls = fb.attacks.LinfinityBrendelBethgeAttack if norm == "linf" else fb.attacks.L2BrendelBethgeAttack
    ours = _bb(TorchBrendelBethge(norm, steps=100), net, x, labels, start)
    reference = _bb(reference_cls(steps=100), net, x, labels, start)  # numba compiles here (~24 s)
    assert bool(criterion_met(net(ours), labels, None).all())
    size, ref_size = distances(x, ours, norm), distances(x, reference, norm)
    assert bool((size < distances(x, start, norm) * 0.9).all())  # it did move towards x
    assert torch.allclose(size, ref_size, rtol=0.01), (size, ref_size)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_linear_model_reaches_the_analytic_minimum(norm: str, lambda_solver: str) -> None:
    net = _linear()
    torch.manual_seed(3)
    x = torch.rand(6, 3, 8, 8) * 0.5 + 0.25
    labels = net(x).argmax(1)
    layer = cast(nn.Linear, net[1])
    logits = net(x)
    margin = (logits[:, 0] - logits[:, 1]).abs().double()
    w_diff = (layer.weight[0] - layer.weight[1]).double()
    analytic = margin / (w_diff.abs().sum() if norm == "linf" else w_diff.norm())
    # The optimum moves each pixel by at most this much; x is ≥ 0.25 from the box's faces.
    per_pixel = analytic if norm == "linf" else analytic * w_diff.abs().max() / w_diff.norm()
    assert bool((per_pixel < 0.25).all())  # so the box does not bind: the closed form holds
    out = _bb(TorchBrendelBethge(norm, steps=200), net, x, labels, _starts(net, x, labels))
    assert bool(criterion_met(net(out), labels, None).all())
    assert torch.allclose(distances(x, out, norm), analytic, rtol=0.01)


def test_deterministic_and_on_the_inputs_device() -> None:
    net, x, labels, start = _mlp_problem(seed=4, n=3)
    first = _bb(TorchBrendelBethge("linf", steps=30), net, x, labels, start)
    second = _bb(TorchBrendelBethge("linf", steps=30), net, x, labels, start)
    assert torch.equal(first, second)
    assert first.device == x.device and first.dtype == x.dtype


def test_non_adversarial_start_is_left_alone() -> None:
    net, x, labels, start = _mlp_problem(seed=5, n=2)
    start[1] = x[1]  # not adversarial: foolbox would assert; this image is returned unchanged
    out = _bb(TorchBrendelBethge("l2", steps=20), net, x, labels, start)
    assert torch.equal(out[1], x[1]) and bool(criterion_met(net(out[:1]), labels[:1], None).all())


class _Unpredicted(nn.Module):
    """Three classes on 1×4×4 inputs; class 2 wins only where the mean pixel exceeds 0.9, which
    no image of the test data does (so the data hold no exemplar of it)."""

    def forward(self, x: Tensor) -> Tensor:
        m = x.flatten(1).mean(1)
        first = x[:, 0, 0, 0] - x[:, 0, 3, 3]
        return torch.stack([first, -first, 40 * (m - 0.9)], dim=1)


def test_fallback_start_reaches_a_class_without_exemplar() -> None:
    torch.manual_seed(6)
    x = torch.rand(4, 1, 4, 4) * 0.5 + 0.2
    net = _Unpredicted().eval()
    labels = net(x).argmax(1)
    assert bool((labels != 2).all())
    targets = torch.full((4,), 2)
    targets[0] = 1 - labels[0]  # one image has an exemplar of its target (the other image class)
    exemplars = x.clone()
    exemplars[0] = x[0].flip(-1).flip(-2)  # swaps pixels (0,0) and (3,3): the other class
    assert int(net(exemplars[:1]).argmax(1)) == int(targets[0])
    has = torch.tensor([True, False, False, False])
    protocol = resolve_protocol("fast", restarts=1)
    search = MinimalSearch(net, protocol, "linf", torch.Generator().manual_seed(0), torch.device("cpu"))
    search._start(x, labels, targets)
    search._blend_start(exemplars, has)
    assert bool(torch.isfinite(search.best_size).all())  # every image got a verified start
    assert bool(criterion_met(net(search.best_adv), labels, targets).all())
    # Class 2 needs the mean pixel above 0.9, so no L∞ step below 0.9 − mean(x) reaches it; the
    # walk raises every pixel alike (clipped at 1), so the blend towards it comes close to that.
    need = (0.9 - x[1:].flatten(1).mean(1)).double()
    assert bool((search.best_size[1:] >= need - 1e-6).all())
    assert bool((search.best_size[1:] <= 1.5 * need).all())


NO_COMPILE_SCRIPT = """
import torch
from torch import nn
from foolbox.attacks.brendel_bethge import L2Optimizer, LinfOptimizer
from robaudit.attacks.protocols import resolve_protocol
from robaudit.attacks.search import MinimalSearch

torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(48, 3)).eval()
x = torch.rand(2, 3, 4, 4)
labels = net(x).argmax(1)
protocol = resolve_protocol("standard", steps=5, restarts=1)
for norm in ("linf", "l2"):
    search = MinimalSearch(net, protocol, norm, torch.Generator().manual_seed(0), torch.device("cpu"))
    result = search.run(x, labels, None)
    assert result.offered["brendel_bethge"] > 0  # it ran and moved
print(len(L2Optimizer._ctor.signatures) + len(LinfOptimizer._ctor.signatures))
"""


def test_a_search_with_brendel_bethge_compiles_nothing() -> None:
    """numba compiles foolbox's solver on first use; a fresh process running a search with
    Brendel–Bethge for both norms must leave it uncompiled (zero signatures)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", NO_COMPILE_SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0"


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_given_region_rows_a_rows_steps_do_not_depend_on_the_other_rows(norm: str) -> None:
    net, x, labels, start = _mlp_problem(seed=7, n=6)
    lr = 1e-4  # a trust region small enough to bind in these steps (the default's rarely does here)
    whole = _bb(TorchBrendelBethge(norm, steps=40, lr=lr), net, x, labels, start)
    part = _bb(TorchBrendelBethge(norm, steps=40, lr=lr, region_rows=6), net, x[2:5], labels[2:5], start[2:5])
    assert torch.equal(whole[2:5], part)
    # foolbox's default scales the trust region by the rows attacked: three rows take other steps
    alone = _bb(TorchBrendelBethge(norm, steps=40, lr=lr), net, x[2:5], labels[2:5], start[2:5])
    assert not torch.equal(alone, part)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_restarts_rerun_brendel_bethge_only_from_new_points_and_find_what_a_rerun_finds(
    norm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Brendel–Bethge draws no random numbers, so a restart that would start it where it started
    before skips that image; the truth is the search that reruns it on every image."""
    net, x, labels, _ = _mlp_problem(seed=8, n=6)
    targets = (labels + 1) % 5
    protocol = resolve_protocol("paper", steps=30, restarts=4)
    rows: list[int] = []
    run = TorchBrendelBethge.run

    def counted(self: TorchBrendelBethge, model: fb.Model, inputs: Tensor, *args: object, **kwargs: object) -> Tensor:
        rows.append(len(inputs))
        return cast(Tensor, run(self, model, inputs, *args, **kwargs))

    monkeypatch.setattr(TorchBrendelBethge, "run", counted)

    def search() -> MinimalSearch:
        s = MinimalSearch(net, protocol, norm, torch.Generator().manual_seed(0), torch.device("cpu"))
        s.run(x, labels, targets)
        return s

    skipping = search()
    skipped_rows = list(rows)
    rows.clear()
    monkeypatch.setattr(MinimalSearch, "_brendel_bethge",
                        lambda self: self._min_norm("brendel_bethge", start=self.best_adv))
    rerunning = search()
    assert rows == [6] * 4 and skipped_rows[0] == 6
    assert sum(skipped_rows) < sum(rows) and len(skipped_rows) > 1  # later restarts ran on some rows
    assert torch.equal(skipping.best_size, rerunning.best_size)
    assert torch.equal(skipping.best_adv, rerunning.best_adv)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_an_images_result_does_not_depend_on_the_unit_it_is_searched_in(norm: str) -> None:
    """The protocol's ``region_images``, not the unit's image count, scales Brendel–Bethge's trust
    region: six images searched as one unit and as units of four and two get the same points
    (FMN, then Brendel–Bethge from FMN's points; neither draws random numbers)."""
    net, x, labels, _ = _mlp_problem(seed=14, n=6)

    def search(region: int, units: list[slice]) -> Tensor:
        protocol = dataclasses.replace(resolve_protocol("fast", steps=40), attacks=("fmn", "brendel_bethge"),
                                       region_images=region)
        sizes = []
        for unit in units:
            s = MinimalSearch(net, protocol, norm, torch.Generator().manual_seed(0), torch.device("cpu"))
            sizes.append(s.run(x[unit], labels[unit], None).size)
        return torch.cat(sizes)

    whole = search(1, [slice(0, 6)])
    assert bool(torch.isfinite(whole).all())
    assert torch.equal(search(1, [slice(0, 4), slice(4, 6)]), whole)
    # The scale matters here: a search that scaled it by the unit's images would differ above.
    assert not torch.equal(search(6, [slice(0, 6)]), whole)
