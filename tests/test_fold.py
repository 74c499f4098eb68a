"""The attack copy with BatchNorm folded: the same function and input gradients as the model,
nothing folded where it cannot be, and a search that verifies on the model as given.

Truths: the unfolded model's own logits and autograd gradients; a model torch.fx cannot trace.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from robaudit.attacks.protocols import resolve_protocol
from robaudit.attacks.search import MinimalSearch
from robaudit.attacks.verify import CountingModel, verify
from robaudit.models.fold import fold_batchnorm


def _conv_bn_net(seed: int = 0) -> nn.Sequential:
    """Conv→BN→ReLU twice, a BN after the ReLU (nothing to fold it into), a linear layer on 8×8
    inputs; eval mode with non-trivial running statistics."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.BatchNorm2d(8),
        nn.Flatten(), nn.Linear(8 * 8 * 8, 4),
    )
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean = torch.empty(8).uniform_(-0.5, 0.5)
            m.running_var = torch.empty(8).uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _input_grad(model: nn.Module, x: Tensor) -> Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).logsumexp(1).sum(), x)
    return grad


def test_folding_keeps_the_function_and_its_input_gradients() -> None:
    net = _conv_bn_net()
    x = torch.rand(6, 3, 8, 8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded, count = fold_batchnorm(net, x[:2])
    assert count == 2  # the BN after a ReLU has no layer to fold into
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 1
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_input_grad(folded, x), _input_grad(net, x), rtol=1e-4, atol=1e-6)
    assert not any(p.requires_grad for p in folded.parameters())
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # the model is untouched


class _Branches(nn.Module):
    """Data-dependent control flow: torch.fx's symbolic trace cannot follow it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self.conv(x))
        return y.mean((2, 3)) if bool(y.sum() > 0) else -y.mean((2, 3))


class _BatchNormAct(nn.BatchNorm2d):
    """A BatchNorm with its activation inside (as timm's BatchNormAct2d): torch.fx traces through
    it, so it runs as a function in the graph and nothing may be counted as folded."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(super().forward(x))


class _SharedConv(nn.Module):
    """One convolution called twice, the first call read by a BatchNorm: its weights serve the
    second call too, so the BatchNorm cannot move into them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.bn.running_mean = torch.full((3,), 0.3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.bn(self.conv(x))).flatten(1)


def test_a_linear_layer_folds_and_a_shared_layer_does_not() -> None:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).eval()
    mlp[2].running_var = torch.linspace(0.5, 2.0, 5)
    x = torch.rand(6, 3, 2, 2)
    folded, count = fold_batchnorm(mlp, x[:2])
    assert count == 1 and isinstance(folded[2], nn.Identity) and isinstance(mlp[2], nn.BatchNorm1d)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), mlp(x), rtol=1e-5, atol=1e-6)
    shared = _SharedConv().eval()
    assert fold_batchnorm(shared, x) == (shared, 0)


def test_models_that_cannot_fold_are_attacked_as_they_are() -> None:
    x = torch.rand(2, 3, 8, 8)
    untraceable = _Branches().eval()
    assert fold_batchnorm(untraceable, x) == (untraceable, 0)
    no_batchnorm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()).eval()
    assert fold_batchnorm(no_batchnorm, x) == (no_batchnorm, 0)
    traced_through = nn.Sequential(nn.Conv2d(3, 4, 3), _BatchNormAct(4), nn.Flatten()).eval()
    assert fold_batchnorm(traced_through, x) == (traced_through, 0)
    training = _conv_bn_net().train()
    assert fold_batchnorm(training, x) == (training, 0)


def test_the_search_takes_gradients_from_the_attack_model_and_verifies_on_the_model() -> None:
    net = _conv_bn_net()
    x = torch.rand(4, 3, 8, 8)
    labels = net(x).argmax(1)
    folded, _ = fold_batchnorm(net, x)
    verifying, attacking = CountingModel(net), CountingModel(folded)
    protocol = dataclasses.replace(resolve_protocol("fast"), attacks=("fmn", "pgd_bisection", "brendel_bethge"),
                                   fmn_steps=30, bb_steps=10)
    res = MinimalSearch(verifying, protocol, "l2", torch.Generator().manual_seed(0), torch.device("cpu"),
                        attack_model=attacking).run(x, labels, None)
    assert verifying.counts()[1] == 0 < attacking.counts()[1]  # no gradient through the model itself
    found = torch.isfinite(res.size)
    assert bool(found.all())
    assert bool(verify(net, x, res.x_adv, labels, None, "l2").ok.all())
